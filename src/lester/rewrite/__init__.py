"""Rewrite messy imperative pipelines into Lester's declarative API, and prove each rewrite.

Two paths produce a pipeline module in the runner's contract (see :mod:`lester.pipeline`):
offline rules over the script's syntax tree (the default; no code leaves the machine) and an
opt-in LLM agent loop against any OpenAI-compatible endpoint. Both are checked by the same
verifier, which runs the original script and the rewrite in a sandbox and compares their
outputs.
"""
