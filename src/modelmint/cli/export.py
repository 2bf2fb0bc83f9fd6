"""`modelmint export-hf`: a Hugging Face checkpoint folder from a registry model's GGUF."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from modelmint.cli.options import ModelsOption
from modelmint.core.errors import ModelmintError
from modelmint.runtime.registry import Registry


def export_hf(
    out: Path = typer.Argument(..., help="New folder for the checkpoint."),
    model: str = typer.Option("default", "--model", help="A llamacpp model of the registry."),
    dtype: str = typer.Option("float32", "--dtype", help="float32 (fastest on CPU) or bfloat16."),
    models_file: Path = ModelsOption,
) -> None:
    """Write a Hugging Face checkpoint from a GGUF model, to fine-tune or serve it.

    The folder gets config, safetensors weights (dequantized), tokenizer and chat template;
    serve it with engine = "transformers" in a models registry."""
    from modelmint.runtime.hf.export import export_gguf

    try:
        spec = Registry.from_file(models_file).resolve(model)
        if spec.engine != "llamacpp":
            raise ValueError(f"model {spec.name!r} is not a GGUF (llamacpp) model")
        console = Console(stderr=True)
        with console.status(f"dequantizing {spec.name} into {out}"):
            export_gguf(spec.weights_path(), out, dtype)
    except (FileNotFoundError, FileExistsError, ValueError, ModelmintError) as exc:
        typer.secho(getattr(exc, "message", str(exc)), fg="red", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"wrote {out}; serve it with a registry entry such as:")
    typer.echo(
        f'\n[[models]]\nname = "{spec.name}-hf"\nengine = "transformers"\n'
        f'path = "{out.resolve()}"\ncontext_length = {spec.context_length}\nparallel = 8\n'
    )
