#!/usr/bin/env python3
"""Regenerates schema.txt, the protobuf message table used by protobuf.rs.

Inputs (no network):
  k8s-pb     - prost structs: field numbers and wire types (#[prost(...)] attributes)
  k8s-openapi (v1_33) - JSON field names and which fields are required
  kubectl-structs.tsv - from kubectl_struct_fields.py: which Go fields are pointers and
               which are `omitempty` (decides whether a zero on the wire is kept)

Usage: python3 gen_schema.py K8S_PB_SRC_DIR K8S_OPENAPI_V1_33_DIR KUBECTL_STRUCTS_TSV > schema.txt

Output format (one message per block):
  message <package>.<Name>
  <number> <jsonName> <card> <type>
card: i = embedded struct whose fields are inlined into the parent object
      p = a Go pointer: present on the wire only when set, so a zero value is kept
      o = optional singular (a zero value is dropped, like Go's omitempty)
      q = required singular (zero values are kept), r = repeated, m = map<string, type>
type: string bytes int32 int64 bool double, or <package>.<Name> for a message.
"""
import os
import re
import sys

# k8s-pb module directory -> package name used in the table
PACKAGES = {
    "api/core/v1": "core/v1",
    "api/apps/v1": "apps/v1",
    "api/batch/v1": "batch/v1",
    "api/networking/v1": "networking/v1",
    "api/rbac/v1": "rbac/v1",
    "api/policy/v1": "policy/v1",
    "api/scheduling/v1": "scheduling/v1",
    "api/autoscaling/v1": "autoscaling/v1",
    "api/autoscaling/v2": "autoscaling/v2",
    "api/authentication/v1": "authentication/v1",
    "api/authorization/v1": "authorization/v1",
    "api/certificates/v1": "certificates/v1",
    "api/coordination/v1": "coordination/v1",
    "api/discovery/v1": "discovery/v1",
    "api/events/v1": "events/v1",
    "api/storage/v1": "storage/v1",
    "api/node/v1": "node/v1",
    "api/admissionregistration/v1": "admissionregistration/v1",
    "apimachinery/pkg/apis/meta/v1": "meta/v1",
    "apimachinery/pkg/runtime": "runtime",
    "apimachinery/pkg/util/intstr": "intstr",
    "apimachinery/pkg/api/resource": "quantity",
}
SCALARS = {"string", "bytes", "int32", "int64", "bool", "double"}

PROST_ATTR = re.compile(r'#\[prost\(([^]]*)\)\]')
FIELD = re.compile(r'pub (r#)?(\w+):')
STRUCT = re.compile(r'^pub struct (\w+) \{')


def norm(name):
    return name.replace("_", "").lower()


def camel(snake):
    head, *rest = snake.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def resolve_type(rust_type, pkg_dir):
    """Maps a prost field type path to a table message name."""
    rust_type = rust_type.replace(",>", ">")
    if "BTreeMap<" in rust_type:
        rust_type = rust_type.rsplit(",", 1)[1]
    path = re.sub(r"::core::option::Option<|::prost::alloc::vec::Vec<|::prost::alloc::boxed::Box<|>", "", rust_type)
    parts = [p for p in path.strip().split("::") if p]
    if not parts:
        raise ValueError("cannot resolve type %r" % rust_type)
    name = parts[-1]
    mods = parts[:-1]
    cur = pkg_dir.split("/")
    for m in mods:
        if m == "super":
            cur = cur[:-1]
        else:
            cur = cur + [m]
    key = "/".join(cur)
    return PACKAGES.get(key, "?" + key) + "." + name


def parse_openapi(openapi_dir, pkg_dir):
    """Returns {StructName: {norm(name): (jsonName, required)}} for one package."""
    out = {}
    d = os.path.join(openapi_dir, pkg_dir)
    if not os.path.isdir(d):
        return out
    for fn in os.listdir(d):
        if not fn.endswith(".rs") or fn == "mod.rs":
            continue
        text = open(os.path.join(d, fn)).read()
        m = re.search(r"^pub struct (\w+) \{(.*?)^\}", text, re.S | re.M)
        if not m:
            continue
        fields = {}
        required = {}
        for fm in re.finditer(r"^    pub (\w+): (.*),$", m.group(2), re.M):
            required[fm.group(1)] = not fm.group(2).startswith("Option<")
        for km in re.finditer(r'"([^"]+)" => Field::Key_(\w+)', text):
            json_name, rust = km.group(1), km.group(2)
            fields[norm(json_name)] = (json_name, required.get(rust, False))
        out[m.group(1).lower()] = fields
    return out


def parse_pb(pb_dir, pkg_dir, pkg):
    """Returns [(message, [(tag, rust_name, attr, rust_type)])] for one k8s-pb module."""
    lines = open(os.path.join(pb_dir, pkg_dir, "mod.rs")).read().split("\n")
    messages = []
    fields = None
    attr = None
    for idx, line in enumerate(lines):
        s = line.strip()
        m = STRUCT.match(line)
        if m:
            fields = []
            messages.append(("%s.%s" % (pkg, m.group(1)), fields))
            continue
        if line.startswith("}"):
            fields = None
            continue
        if fields is None:
            continue
        am = PROST_ATTR.search(s)
        if am:
            attr = am.group(1)
            continue
        fm = FIELD.match(s)
        if fm and attr:
            rust_type = s.split(":", 1)[1].strip()
            follow = idx + 1
            while not rust_type.endswith(",") or rust_type.count("<") > rust_type.count(">"):
                rust_type += lines[follow].strip()
                follow += 1
            tag = re.search(r'tag = "(\d+)"', attr).group(1)
            fields.append((tag, fm.group(2), attr, resolve_type(rust_type.rstrip(","), pkg_dir)))
            attr = None
    return messages


def parse_go_structs(path):
    """Returns {message: {number: (omitempty, go_kind, proto_name)}} from kubectl-structs.tsv."""
    out = {}
    for line in open(path, encoding="latin1"):
        columns = line.rstrip("\n").split("\t")
        package, type_name = columns[0], columns[1]
        if package.startswith("k8s.io/api/"):
            pkg = package[len("k8s.io/api/"):]
        elif package == "k8s.io/apimachinery/pkg/apis/meta/v1":
            pkg = "meta/v1"
        else:
            continue
        fields = {}
        for column in columns[2:]:
            parts = column.split("|")
            if len(parts) != 3 or not parts[1]:
                continue
            json_tag, proto_tag, kind = parts
            proto = proto_tag.split(",")
            proto_name = next((p[5:] for p in proto if p.startswith("name=")), "")
            fields[proto[1]] = ("omitempty" in json_tag.split(",")[1:], kind, proto_name)
        out[("%s.%s" % (pkg, type_name.split(".")[-1])).lower()] = fields
    return out


def main():
    pb_dir, openapi_dir = sys.argv[1], sys.argv[2]
    go_structs = parse_go_structs(sys.argv[3])
    messages = []
    names = {}
    for pkg_dir, pkg in PACKAGES.items():
        for struct, fields in parse_openapi(openapi_dir, pkg_dir).items():
            names["%s.%s" % (pkg, struct)] = fields
        messages += parse_pb(pb_dir, pkg_dir, pkg)
    by_name = dict(messages)

    def names_of(msg):
        return names.get(msg.split(".")[0] + "." + msg.split(".", 1)[1].lower())

    # Embedded Go structs (json:",inline") are separate messages on the wire; their fields
    # carry the parent's JSON names. A message field is inline when the parent's JSON
    # fields cover at least half of the nested message's fields (the rest may be newer
    # than k8s-openapi's v1_33, or inlined themselves).
    inline = set()
    inherited = {}
    for _ in range(4):
        for msg, fields in messages:
            known = names_of(msg) or inherited.get(msg)
            if not known:
                continue
            for tag, rust_name, attr, typ in fields:
                nested = by_name.get(typ)
                if norm(rust_name) in known or nested is None or not attr.startswith("message"):
                    continue
                if nested and 2 * sum(norm(f[1]) in known for f in nested) >= len(nested):
                    inline.add((msg, tag))
                    inherited.setdefault(typ, {}).update(known)

    fallbacks = []
    without_go = []
    print("# Generated by gen_schema.py from k8s-pb 0.9.0 (field numbers, wire types)")
    print("# k8s-openapi 0.29 v1_33 (JSON names, required fields) and kubectl 1.32's Go structs")
    print("# (pointer fields, omitempty; see kubectl_struct_fields.py). Do not edit by hand.")
    for msg, fields in messages:
        print("message " + msg)
        known = names_of(msg) or inherited.get(msg) or {}
        for tag, rust_name, attr, typ in fields:
            json_name, required = known.get(norm(rust_name), (None, False))
            if json_name is None:
                json_name = camel(rust_name)
                fallbacks.append("%s.%s" % (msg, rust_name))
            kinds = [a.strip() for a in attr.split(",")]
            first = kinds[0].split(" ")[0]
            mm = re.match(r'btree_map = "string, (\w+)"', attr)
            if mm:
                card = "m"
                if mm.group(1) in SCALARS:
                    typ = mm.group(1)
            elif "repeated" in kinds:
                card = "r"
            elif (msg, tag) in inline:
                card = "i"
            else:
                card = "q" if required else "o"
                go = go_structs.get(msg.lower(), {}).get(tag)
                if go and norm(go[2]) == norm(json_name):
                    omitempty, kind, _ = go
                    card = "p" if kind == "ptr" else "o" if omitempty else "q"
                elif msg.lower() in go_structs:
                    without_go.append("%s.%s" % (msg, rust_name))
            if first in SCALARS:
                typ = first
            print("%s %s %s %s" % (tag, json_name, card, typ))
    sys.stderr.write("fields without a k8s-openapi JSON name (camelCase used): %d\n" % len(fallbacks))
    for f in fallbacks:
        sys.stderr.write("  %s\n" % f)
    sys.stderr.write("singular fields missing from kubectl's struct (newer than it): %d\n" % len(without_go))
    for f in without_go:
        sys.stderr.write("  %s\n" % f)
    sys.stderr.write("messages without kubectl struct info: %s\n" % " ".join(
        m for m, _ in messages if m.lower() not in go_structs))


main()
