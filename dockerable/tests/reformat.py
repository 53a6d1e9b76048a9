"""A compose file written otherwise (the same YAML, another layout), for the tests that show the
tools read what it says, not how it is written."""

import yaml

from dockerable.envtools.compose import ComposeLoader


class Tagged:
    """A Compose tag (!reset, !override) and its value, kept to be written back."""

    def __init__(self, tag: str, value):
        self.tag, self.value = tag, value


class TagKeepingLoader(ComposeLoader):  # pylint: disable=too-many-ancestors
    """Compose's YAML with its tags kept."""


def _keep(loader, node):
    return Tagged(node.tag, ComposeLoader.yaml_constructors[node.tag](loader, node))


TagKeepingLoader.add_constructor("!reset", _keep)
TagKeepingLoader.add_constructor("!override", _keep)


class QuotingDumper(yaml.SafeDumper):  # pylint: disable=too-many-ancestors
    """Block style, four-space indents, every string double-quoted."""


def _represent_tagged(dumper, data: Tagged):
    if isinstance(data.value, dict):
        return dumper.represent_mapping(data.tag, data.value)
    if isinstance(data.value, list):
        return dumper.represent_sequence(data.tag, data.value)
    return dumper.represent_scalar(data.tag, "" if data.value is None else str(data.value))


QuotingDumper.add_representer(Tagged, _represent_tagged)
QuotingDumper.add_representer(
    str, lambda dumper, data: dumper.represent_scalar("tag:yaml.org,2002:str", data, style='"')
)


def reformatted_compose(text: str) -> str:
    """The same compose file, written otherwise: anchors expanded, other indentation and quoting,
    comments moved to the top and the end."""
    document = yaml.load(text, Loader=TagKeepingLoader)  # noqa: S506
    body = yaml.dump(document, Dumper=QuotingDumper, indent=4, default_flow_style=False, sort_keys=True)
    return f"# services:\n#   preflight:  (a comment, moved)\n{body}# backup-18 postgres-17\n"
