"""How the samples reach the sandbox: through qodlab's patch, or the SDK's own qos_base_url."""

from typing import Any


def client_kwargs(mode: str, url: str) -> dict[str, Any]:
    """Extra NetworkAsCodeClient arguments: none when patched, `qos_base_url` otherwise."""
    if mode == "patch":
        from qodlab.sandbox import use_with_network_as_code

        use_with_network_as_code(url)
        return {}
    return {"qos_base_url": url}
