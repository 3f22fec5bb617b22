from mwheel.cli import entrypoint

entrypoint()
