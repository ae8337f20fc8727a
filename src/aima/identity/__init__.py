"""People across the library: observations, persons, face-voice links and dossiers."""
