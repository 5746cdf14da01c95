"""The local stack: `python -m local` (make run) runs the platform on an embedded AWS emulator."""
