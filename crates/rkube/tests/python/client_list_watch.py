"""The Python `kubernetes` client against rkube: list, create, watch. Exits non-zero on failure."""
import sys
import threading
import time

from kubernetes import client, config, watch

config.load_kube_config(config_file=sys.argv[1])
core = client.CoreV1Api()
apps = client.AppsV1Api()

names = sorted(ns.metadata.name for ns in core.list_namespace().items)
assert names == ["default", "kube-node-lease", "kube-public", "kube-system"], names

cm = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="py-1", labels={"from": "python"}), data={"k": "v"})
core.create_namespaced_config_map("default", cm)
listed = core.list_namespaced_config_map("default", label_selector="from=python")
assert [c.metadata.name for c in listed.items] == ["py-1"], listed
rv = listed.metadata.resource_version

deployment = client.V1Deployment(
    metadata=client.V1ObjectMeta(name="py-web"),
    spec=client.V1DeploymentSpec(
        replicas=1,
        selector=client.V1LabelSelector(match_labels={"app": "py-web"}),
        template=client.V1PodTemplateSpec(
            metadata=client.V1ObjectMeta(labels={"app": "py-web"}),
            spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="nginx")]),
        ),
    ),
)
apps.create_namespaced_deployment("default", deployment)
assert apps.read_namespaced_deployment("py-web", "default").spec.replicas == 1

# Paging.
for i in range(5):
    core.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name=f"page-{i}")))
first = core.list_namespaced_config_map("default", limit=2)
assert len(first.items) == 2 and first.metadata._continue, first.metadata
seen = [c.metadata.name for c in first.items]
token = first.metadata._continue
while token:
    page = core.list_namespaced_config_map("default", limit=2, _continue=token)
    seen += [c.metadata.name for c in page.items]
    token = page.metadata._continue
assert sorted(seen) == sorted(["py-1"] + [f"page-{i}" for i in range(5)]), seen

events = []


def changes():
    time.sleep(0.5)
    core.patch_namespaced_config_map("py-1", "default", {"data": {"k": "v2"}})
    core.delete_namespaced_config_map("py-1", "default")


threading.Thread(target=changes).start()
w = watch.Watch()
for event in w.stream(core.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=10):
    if event["object"].metadata.name != "py-1":
        continue
    events.append((event["type"], event["object"].data))
    if event["type"] == "DELETED":
        w.stop()
assert [e[0] for e in events] == ["MODIFIED", "DELETED"], events
assert events[0][1] == {"k": "v2"}, events
print("python client ok")
