#!/usr/bin/env python3
"""Lists the Go API structs compiled into a kubectl binary, with each field's JSON tag,
protobuf tag and Go kind (pointer or not), read from the binary's reflection metadata.

gen_schema.py uses this to tell pointer fields (written to protobuf only when set, so a zero
value on the wire means "set to zero") from plain fields (always written, zero means unset)
and which fields are `omitempty` in JSON.

Usage: python3 kubectl_struct_fields.py /path/to/kubectl > kubectl-structs.tsv   (~3 min)
Output: <package path> TAB <type name> TAB <field>... with field = json|protobuf|kind or "-".
Assumes a linux/amd64 Go >= 1.21 ELF binary (abi.Type layout of that era).
"""
import collections
import re
import struct
import sys

KINDS = {1: "bool", 2: "int", 5: "int32", 6: "int64", 14: "float64", 21: "map", 22: "ptr",
         23: "slice", 24: "string", 25: "struct", 20: "iface", 17: "array"}

data = open(sys.argv[1], "rb").read()
phoff = struct.unpack_from("<Q", data, 0x20)[0]
phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
segments = []
for i in range(phnum):
    p_type, _, p_offset, p_vaddr, _, p_filesz = struct.unpack_from("<IIQQQQ", data, phoff + i * phentsize)
    if p_type == 1:  # PT_LOAD
        segments.append((p_vaddr, p_offset, p_filesz))


def offset_to_address(offset):
    for address, start, size in segments:
        if start <= offset < start + size:
            return address + offset - start


def address_to_offset(address):
    for start_address, start, size in segments:
        if start_address <= address < start_address + size:
            return start + address - start_address


def read_varint(position):
    value, shift = 0, 0
    while True:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, position


def parse_name(offset):
    """An abi.Name: flags byte, varint length, bytes, then (if flags&2) varint length, tag."""
    flags = data[offset]
    length, position = read_varint(offset + 1)
    name = data[position:position + length].decode("latin1")
    position += length
    tag, tag_start = "", None
    if flags & 2:
        tag_length, tag_start = read_varint(position)
        tag = data[tag_start:tag_start + tag_length].decode("latin1")
    return flags, name, tag, tag_start


def words(step=8):
    for _, start, size in segments:
        for offset in range(start - start % 8, start + size - 24, step):
            yield offset, struct.unpack_from("<Q", data, offset)[0]


# 1. Field names with a json tag: find each `json:"` and the abi.Name that holds it.
names = {}
for match in re.finditer(rb'json:"', data):
    end = match.start()
    for start in range(max(0, end - 300), end):
        if data[start] & 2 == 0 or data[start] > 15:
            continue
        try:
            _, name, tag, tag_start = parse_name(start)
        except IndexError:
            continue
        if re.fullmatch(r"[A-Za-z_]\w*", name) and tag_start is not None and tag_start <= end < tag_start + len(tag):
            names[offset_to_address(start)] = (name, tag)

# 2. abi.StructField entries {name *Name, typ *Type, offset uintptr} pointing at those names.
fields = {}
for offset, word in words():
    if word in names:
        type_offset = address_to_offset(struct.unpack_from("<Q", data, offset + 8)[0])
        if type_offset is not None:
            fields[offset] = (names[word], data[type_offset + 23] & 0x1F)

# 3. Runs of consecutive fields; a StructType's Fields slice header points at a run's start.
runs, run = [], []
for offset in sorted(fields):
    if run and offset - run[-1] != 24:
        runs.append(run)
        run = []
    run.append(offset)
runs.append(run)
run_starts = {offset_to_address(r[0]): r for r in runs if r}
struct_types = {}
for offset, word in words():
    if word in run_starts:
        length, capacity = struct.unpack_from("<QQ", data, offset + 8)
        if length == capacity and 0 < length < 200:
            struct_types[word] = (length, offset - 56)  # abi.StructType = Type(48) + PkgPath(8)


# 4. Type names are NameOffs from the module's types base; calibrate it on a known type.
def name_offset(type_offset):
    return struct.unpack_from("<i", data, type_offset + 40)[0]


def plausible(base, samples):
    score = 0
    for type_offset in samples:
        offset = address_to_offset(base + name_offset(type_offset))
        try:
            if offset and re.fullmatch(r"\*?\w+\.\w+", parse_name(offset)[1]):
                score += 1
        except IndexError:
            pass
    return score


samples = [t for _, t in list(struct_types.values())[:100]]
candidates = collections.Counter()
for match in re.finditer(rb"\*v1\.DeploymentSpec", data):
    for _, type_offset in struct_types.values():
        candidates[offset_to_address(match.start() - 2) - name_offset(type_offset)] += 1
base = max(candidates, key=lambda b: plausible(b, samples))

for address, (length, type_offset) in struct_types.items():
    tflag = data[type_offset + 20]
    type_name = parse_name(address_to_offset(base + name_offset(type_offset)))[1]
    if tflag & 2:  # TFlagExtraStar
        type_name = type_name[1:]
    package = ""
    if tflag & 1:  # TFlagUncommon: abi.UncommonType follows the StructType (80 bytes)
        package_offset = struct.unpack_from("<i", data, type_offset + 80)[0]
        if package_offset:
            package = parse_name(address_to_offset(base + package_offset))[1]
    if not package.startswith("k8s.io/"):
        continue
    columns = [package, type_name]
    start = run_starts[address][0]
    for index in range(length):
        entry = fields.get(start + 24 * index)
        if entry is None:
            columns.append("-")
            continue
        (_, tag), kind = entry
        json_tag = re.search(r'json:"([^"]*)"', tag)
        proto_tag = re.search(r'protobuf:"([^"]*)"', tag)
        columns.append("%s|%s|%s" % (json_tag.group(1) if json_tag else "",
                                     proto_tag.group(1) if proto_tag else "", KINDS.get(kind, kind)))
    print("\t".join(columns))
