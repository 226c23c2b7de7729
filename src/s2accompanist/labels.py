"""Shared vocabularies: SongFormer's eight structure labels (every segment table, request and model)
and the twelve pitch-class names that key names are spelled with ("Eb minor", as mir_eval.key reads them)."""

SECTION_LABELS = ("intro", "verse", "pre-chorus", "chorus", "bridge", "inst", "outro", "silence")

PITCH_CLASSES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
