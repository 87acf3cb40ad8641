"""The chat application: Chainlit UI, the assistant agent, the FastAPI server, the CLI."""
