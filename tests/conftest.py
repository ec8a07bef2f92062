import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
# The tests import the scripts (student copies, page weights) as modules, and the book's
# Sphinx extensions (book/_ext: the notebooks' Markdown conventions).
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "book" / "_ext"))
CHAPTER_NAME = re.compile(r"^(\d{2})[a-z]?_[a-z0-9_]+\.ipynb$")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def toc() -> dict:
    return yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))


def chapter_paths() -> list[Path]:
    return sorted((ROOT / "notebooks").glob("*.ipynb"))


def colab_url(config: dict, notebook: Path) -> str:
    """The Colab address of a notebook, derived from the one repository setting."""
    repo = config["repository"]["url"].removeprefix("https://github.com/").rstrip("/")
    branch = config["repository"].get("branch", "main")
    relative = notebook.relative_to(ROOT).as_posix()
    return f"https://colab.research.google.com/github/{repo}/blob/{branch}/{relative}"


# Tiny randomly initialised models for the tests of lmbook.deploy, economics, generation
# and text: small enough to build in milliseconds, with every feature the real ones have
# (grouped-query attention, a key/value cache, BERT's pooler). Tests that need other sizes
# pass keyword arguments to the config factories.
TINY_LLAMA = {
    "vocab_size": 50,
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,  # grouped-query attention: 2 query heads per key/value head
    "max_position_embeddings": 128,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "pad_token_id": 2,
}
TINY_BERT = {
    "vocab_size": 30_522,  # bert-base-uncased's, so MiniLM's tokenizer can feed it
    "hidden_size": 32,
    "num_hidden_layers": 3,
    "num_attention_heads": 4,
    "intermediate_size": 64,
    "max_position_embeddings": 64,
}


@pytest.fixture(scope="session")
def tiny_llama_config():
    """A factory: ``tiny_llama_config(**changes)`` is a ``LlamaConfig`` of TINY_LLAMA."""
    from transformers import LlamaConfig

    return lambda **changes: LlamaConfig(**(TINY_LLAMA | changes))


@pytest.fixture(scope="module")
def tiny_llama(tiny_llama_config):
    """A ``LlamaForCausalLM`` of ``tiny_llama_config()``, seeded with 0, in eval mode."""
    import torch
    from transformers import LlamaForCausalLM

    torch.manual_seed(0)
    return LlamaForCausalLM(tiny_llama_config()).eval()


@pytest.fixture(scope="session")
def tiny_bert_config():
    """A factory: ``tiny_bert_config(**changes)`` is a ``BertConfig`` of TINY_BERT."""
    from transformers import BertConfig

    return lambda **changes: BertConfig(**(TINY_BERT | changes))


@pytest.fixture(scope="module")
def tiny_bert(tiny_bert_config):
    """A ``BertModel`` of ``tiny_bert_config()``, seeded with 0, in eval mode."""
    import torch
    from transformers import BertModel

    torch.manual_seed(0)
    return BertModel(tiny_bert_config()).eval()


@pytest.fixture(scope="session")
def html_root() -> Path:
    """The built website (tests/site only)."""
    html = ROOT / "_build" / "html"
    if not (html / "index.html").exists():
        pytest.fail("the website is not built: run `make book` (or `make test`) first")
    return html
