"""The ways into seedqa: the `seedqa` command line and the Gradio chat window.

They only present what `qa.engine.SeedQA` returns; no answering logic lives here.
"""
