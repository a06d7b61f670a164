"""The thesis' method and its competitors, each one file, all trained by thesislib.engine."""
