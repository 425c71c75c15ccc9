"""docs/api.md from the protos' own comments: every service, RPC, message, field and enum
value, with each RPC's errors (the "Errors:" part of its comment).

protoc (grpc_tools) compiles protos/ with --include_source_info into a descriptor set, so
the comments are exactly what the .proto files say. ``--check`` fails when docs/api.md is
not what this script makes (`make check-api-docs`); without it the file is written.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from google.protobuf import descriptor_pb2

ROOT = Path(__file__).resolve().parents[1]
PROTOS = ROOT / "protos"
OUTPUT = ROOT / "docs" / "api.md"
PACKAGE_DIR = "payments/v1"

# Path numbers of descriptor.proto (FileDescriptorProto, DescriptorProto, ...).
FILE_MESSAGE, FILE_ENUM, FILE_SERVICE = 4, 5, 6
MESSAGE_FIELD, MESSAGE_NESTED, MESSAGE_ENUM = 2, 3, 4
ENUM_VALUE, SERVICE_METHOD = 2, 2

FDP = descriptor_pb2.FieldDescriptorProto
SCALARS = {
    value: name.removeprefix("TYPE_").lower()
    for name, value in FDP.Type.items()
    if value not in (FDP.TYPE_MESSAGE, FDP.TYPE_ENUM, FDP.TYPE_GROUP)
}
# Files in reading order: the services as a caller meets them, the shared types last.
FILE_ORDER = ("payment_service", "refund_service", "subscription_service", "invoice_service")
ERRORS = re.compile(r"\bErrors:\s*", re.MULTILINE)


@dataclass(frozen=True)
class Comments:
    by_path: dict[tuple[int, ...], str]

    def of(self, *path: int) -> str:
        return self.by_path.get(path, "")


def compile_protos() -> descriptor_pb2.FileDescriptorSet:
    protos = sorted(str(p.relative_to(PROTOS)) for p in (PROTOS / PACKAGE_DIR).glob("*.proto"))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "set.binpb"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "grpc_tools.protoc",
                f"-I{PROTOS}",
                "--include_source_info",
                f"--descriptor_set_out={out}",
                *protos,
            ],
            check=True,
        )
        return descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())


def comments_of(file: descriptor_pb2.FileDescriptorProto) -> Comments:
    found: dict[tuple[int, ...], str] = {}
    for location in file.source_code_info.location:
        text = location.leading_comments or location.trailing_comments
        if text:
            found[tuple(location.path)] = _clean(text)
    return Comments(found)


def _clean(text: str) -> str:
    """A comment as prose: protoc keeps the space after "//" on every line."""
    lines = [line[1:] if line.startswith(" ") else line for line in text.strip("\n").split("\n")]
    return "\n".join(lines).strip()


def _one_line(text: str) -> str:
    """For a table cell: paragraphs joined, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def split_errors(text: str) -> tuple[str, str]:
    """An RPC comment as (what it does, its "Errors:" part or "")."""
    parts = ERRORS.split(text, maxsplit=1)
    return (parts[0], parts[1]) if len(parts) == 2 else (text, "")


def _anchor(name: str) -> str:
    return "#" + re.sub(r"[^a-z0-9_-]", "", name.lower())


def _local(type_name: str, package: str) -> str:
    return type_name.lstrip(".").removeprefix(package + ".")


def _type_link(type_name: str, package: str) -> str:
    local = _local(type_name, package)
    if type_name.lstrip(".").startswith(package + "."):
        return f"[{local}]({_anchor(local)})"
    return f"`{local}`"


class Renderer:
    def __init__(self, files: list[descriptor_pb2.FileDescriptorProto]) -> None:
        self.files = files
        self.maps: dict[str, descriptor_pb2.DescriptorProto] = {}
        for file in files:
            for name, message, _ in self._messages(file.message_type, file.package, ()):
                if message.options.map_entry:
                    self.maps["." + file.package + "." + name] = message
        self.missing: list[str] = []

    def _messages(
        self, messages: Iterable[descriptor_pb2.DescriptorProto], prefix: str, path: tuple[int, ...]
    ) -> Iterator[tuple[str, descriptor_pb2.DescriptorProto, tuple[int, ...]]]:
        """(dotted name without the package, message, source path), nested ones after their parent."""
        base = FILE_MESSAGE if not path else MESSAGE_NESTED
        for index, message in enumerate(messages):
            name = message.name if not path else f"{prefix}.{message.name}"
            here = (*path, base, index)
            yield name, message, here
            yield from self._messages(message.nested_type, name, here)

    def comment(self, comments: Comments, path: tuple[int, ...], what: str) -> str:
        text = comments.of(*path)
        if not text:
            self.missing.append(what)
        return text

    def field_type(self, field: descriptor_pb2.FieldDescriptorProto, package: str) -> str:
        if field.type_name in self.maps:
            key, value = self.maps[field.type_name].field
            return f"map<{self.field_type(key, package)}, {self.field_type(value, package)}>"
        if field.type in (FDP.TYPE_MESSAGE, FDP.TYPE_ENUM):
            shown = _type_link(field.type_name, package)
        else:
            shown = f"`{SCALARS[field.type]}`"
        if field.label == FDP.LABEL_REPEATED:
            return f"repeated {shown}"
        return f"optional {shown}" if field.proto3_optional else shown

    def render(self) -> str:
        package = self.files[0].package
        out = [
            f"# API reference: `{package}`",
            "",
            "Generated by `tools/api_docs.py` from the comments in `protos/` "
            "(`make api-docs`); do not edit by hand. Errors are gRPC status codes with "
            "`google.rpc.ErrorInfo` reasons (see [ErrorReason](#errorreason)).",
            "",
        ]
        out += ["Services:", ""]
        out += [
            f"- [{service.name}]({_anchor(service.name)})"
            for file in self.files
            for service in file.service
        ]
        out.append("")
        for file in self.files:
            out += self.render_services(file)
        out += ["## Messages", ""]
        for file in self.files:
            out += self.render_messages(file)
        out += ["## Enums", ""]
        for file in self.files:
            out += self.render_enums(file)
        return "\n".join(out).rstrip() + "\n"

    def render_services(self, file: descriptor_pb2.FileDescriptorProto) -> list[str]:
        comments, out = comments_of(file), []
        for s_index, service in enumerate(file.service):
            path = (FILE_SERVICE, s_index)
            out += [
                f"## {service.name}",
                "",
                f"`{file.package}.{service.name}` in `{file.name}`",
                "",
            ]
            out += [self.comment(comments, path, service.name), ""]
            for m_index, method in enumerate(service.method):
                what = f"{service.name}.{method.name}"
                text = self.comment(comments, (*path, SERVICE_METHOD, m_index), what)
                request = _type_link(method.input_type, file.package)
                response = _type_link(method.output_type, file.package)
                out += [f"### {service.name}.{method.name}", "", f"{request} → {response}", ""]
                description, errors = split_errors(text)
                out += [" ".join(description.split()), ""]
                if errors:
                    out += [f"**Errors:** {' '.join(errors.split())}", ""]
                else:
                    self.missing.append(f"{what} (no 'Errors:' in its comment)")
        return out

    def render_messages(self, file: descriptor_pb2.FileDescriptorProto) -> list[str]:
        comments, out = comments_of(file), []
        for name, message, path in self._messages(file.message_type, file.package, ()):
            if message.options.map_entry:
                continue
            out += [f"### {name}", "", self.comment(comments, path, name), ""]
            if message.field:
                out += ["| field | type | description |", "| --- | --- | --- |"]
            for f_index, field in enumerate(message.field):
                text = self.comment(
                    comments, (*path, MESSAGE_FIELD, f_index), f"{name}.{field.name}"
                )
                if field.HasField("oneof_index") and not field.proto3_optional:
                    text = f"(one of `{message.oneof_decl[field.oneof_index].name}`) {text}"
                cell = _one_line(text)
                out.append(f"| `{field.name}` | {self.field_type(field, file.package)} | {cell} |")
            out.append("")
            for e_index, enum in enumerate(message.enum_type):
                out += self.render_enum(
                    comments, (*path, MESSAGE_ENUM, e_index), f"{name}.{enum.name}", enum
                )
        return out

    def render_enums(self, file: descriptor_pb2.FileDescriptorProto) -> list[str]:
        comments, out = comments_of(file), []
        for e_index, enum in enumerate(file.enum_type):
            out += self.render_enum(comments, (FILE_ENUM, e_index), enum.name, enum)
        return out

    def render_enum(
        self,
        comments: Comments,
        path: tuple[int, ...],
        name: str,
        enum: descriptor_pb2.EnumDescriptorProto,
    ) -> list[str]:
        out = [f"### {name}", "", self.comment(comments, path, name), ""]
        out += ["| value | number | description |", "| --- | --- | --- |"]
        for v_index, value in enumerate(enum.value):
            text = self.comment(comments, (*path, ENUM_VALUE, v_index), f"{name}.{value.name}")
            out.append(f"| `{value.name}` | {value.number} | {_one_line(text)} |")
        return [*out, ""]


def _reading_order(file: descriptor_pb2.FileDescriptorProto) -> tuple[int, str]:
    stem = Path(file.name).stem
    return (FILE_ORDER.index(stem) if stem in FILE_ORDER else len(FILE_ORDER), file.name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when docs/api.md is stale")
    args = parser.parse_args(argv)
    files = sorted(
        (f for f in compile_protos().file if f.name.startswith(PACKAGE_DIR + "/")),
        key=_reading_order,
    )
    renderer = Renderer(files)
    text = renderer.render()
    for what in renderer.missing:
        print(f"api_docs: no comment for {what}", file=sys.stderr)
    if args.check:
        current = OUTPUT.read_text() if OUTPUT.exists() else ""
        if current != text:
            print("docs/api.md is stale: run `make api-docs` and commit it", file=sys.stderr)
            return 1
        return 1 if renderer.missing else 0
    OUTPUT.write_text(text)
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 1 if renderer.missing else 0


if __name__ == "__main__":
    sys.exit(main())
