"""What a fresh local cluster needs inside the API: RBAC for its users and the KWOK node pools.

Run with the ``super-admin`` credentials (group system:masters), which exist only
for this bootstrap, as kubeadm does; the everyday admin kubeconfig is bound to
cluster-admin through an ordinary ClusterRoleBinding, so it can be audited and revoked.
Every step is idempotent: ``up`` on a running cluster converges, never duplicates.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

POOL_LABEL = "kubebook.io/pool"
WORKLOAD_SIZES = ((8, 32), (16, 64), (32, 128))
SYSTEM_SIZE = (4, 16)


def _ensure(create: Any, body: Any, replace: Any = None, name: str | None = None) -> None:
    try:
        create(body)
    except ApiException as error:
        if error.status != 409:
            raise
        if replace is not None and name is not None:
            replace(name, body)


def _binding(name: str, role: str, subjects: list[client.RbacV1Subject]) -> client.V1ClusterRoleBinding:
    return client.V1ClusterRoleBinding(
        metadata=client.V1ObjectMeta(name=name, labels={"app.kubernetes.io/managed-by": "kubebook"}),
        role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=role),
        subjects=subjects)


def ensure_rbac(api: client.ApiClient) -> None:
    rbac = client.RbacAuthorizationV1Api(api)
    group = "rbac.authorization.k8s.io"
    _ensure(rbac.create_cluster_role_binding, _binding(
        "kubebook:cluster-admins", "cluster-admin",
        [client.RbacV1Subject(kind="Group", name="kubebook:cluster-admins", api_group=group)]))
    _ensure(rbac.create_cluster_role_binding, _binding(
        "kubebook:apiserver-kubelet", "system:kubelet-api-admin",
        [client.RbacV1Subject(kind="User", name="kube-apiserver-kubelet-client", api_group=group)]))
    kwok_role = client.V1ClusterRole(
        metadata=client.V1ObjectMeta(name="kubebook:kwok", labels={"app.kubernetes.io/managed-by": "kubebook"}),
        rules=[
            client.V1PolicyRule(api_groups=[""], resources=["nodes", "nodes/status"],
                                verbs=["get", "list", "watch", "update", "patch"]),
            client.V1PolicyRule(api_groups=[""], resources=["pods", "pods/status"],
                                verbs=["get", "list", "watch", "update", "patch", "delete"]),
            client.V1PolicyRule(api_groups=["coordination.k8s.io"], resources=["leases"],
                                verbs=["get", "list", "watch", "create", "update", "patch"]),
            client.V1PolicyRule(api_groups=["", "events.k8s.io"], resources=["events"],
                                verbs=["create", "patch", "update"]),
        ])
    _ensure(rbac.create_cluster_role, kwok_role, rbac.replace_cluster_role, "kubebook:kwok")
    _ensure(rbac.create_cluster_role_binding, _binding(
        "kubebook:kwok", "kubebook:kwok",
        [client.RbacV1Subject(kind="User", name="kubebook:kwok", api_group=group)]))


def node_plan(count: int) -> list[dict[str, Any]]:
    """Names, pools and sizes of ``count`` KWOK nodes: about a quarter in `system`, the rest `workload`."""
    system = max(1, count // 4) if count > 1 else 0
    plan = []
    for index in range(count):
        if index < system:
            pool, (cpu, mem) = "system", SYSTEM_SIZE
            name = f"kwok-system-{index}"
        else:
            pool = "workload"
            cpu, mem = WORKLOAD_SIZES[(index - system) % len(WORKLOAD_SIZES)]
            name = f"kwok-workload-{index - system}"
        plan.append({"name": name, "pool": pool, "cpu": cpu, "memory_gi": mem})
    return plan


def node_body(entry: dict[str, Any], version: str) -> client.V1Node:
    name, pool = entry["name"], entry["pool"]
    resources = {"cpu": str(entry["cpu"]), "memory": f"{entry['memory_gi']}Gi", "pods": "110",
                 "ephemeral-storage": "100Gi"}
    taints = [client.V1Taint(key=POOL_LABEL, value="system", effect="NoSchedule")] if pool == "system" else None
    return client.V1Node(
        metadata=client.V1ObjectMeta(
            name=name,
            labels={"type": "kwok", POOL_LABEL: pool, "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64", f"node-role.kubernetes.io/{pool}": ""},
            annotations={"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"}),
        spec=client.V1NodeSpec(taints=taints),
        status=client.V1NodeStatus(
            allocatable=resources, capacity=resources,
            node_info=client.V1NodeSystemInfo(
                architecture="amd64", operating_system="linux", kubelet_version=version,
                kube_proxy_version="", os_image="kwok", kernel_version="kwok", container_runtime_version="kwok",
                boot_id="", machine_id="", system_uuid="")))


def ensure_nodes(api: client.ApiClient, count: int, version: str) -> list[str]:
    """Create the missing KWOK nodes of the plan; return all planned names."""
    core = client.CoreV1Api(api)
    existing = {n.metadata.name for n in core.list_node(label_selector="type=kwok").items}
    plan = node_plan(count)
    for entry in plan:
        if entry["name"] not in existing:
            _ensure(core.create_node, node_body(entry, version))
    return [entry["name"] for entry in plan]


def ready_nodes(api: client.ApiClient) -> int:
    core = client.CoreV1Api(api)
    count = 0
    for node in core.list_node(label_selector="type=kwok").items:
        if any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or []):
            count += 1
    return count
