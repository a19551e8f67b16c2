"""What the API needs for a real node: TLS-bootstrap RBAC, kube-router's role, serving-CSR approval.

The kubelet starts with a bootstrap credential that can only ask for a node client certificate;
kube-controller-manager approves that request (``nodeclient``) and later renewals
(``selfnodeclient``), and signs it, so the kubelet runs as ``system:node:<name>`` under the Node
authorizer and NodeRestriction. Serving certificates (``kubelet-serving``) are never approved by
upstream automatically; kubebook approves one only when the requester is that node and every
name and address in it is the node's own, as kubeadm's documentation tells an operator to check.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from cryptography import x509
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from kubebook.localcluster.pki import CertSpec

BOOTSTRAP_GROUP = "kubebook:node-bootstrappers"
ROUTER_USER = "kubebook:kube-router"
MANAGED = {"app.kubernetes.io/managed-by": "kubebook"}
NODE_CERTS = (
    CertSpec("node-bootstrapper", "kubebook:node-bootstrapper", (BOOTSTRAP_GROUP,), client=True),
    CertSpec("kube-router", ROUTER_USER, client=True),
)


def registry_cert() -> CertSpec:
    return CertSpec("registry", "kubebook-registry", server=True, dns_names=("localhost",), ips=("127.0.0.1",))


def _binding(name: str, role: str, kind: str, subject: str) -> client.V1ClusterRoleBinding:
    return client.V1ClusterRoleBinding(
        metadata=client.V1ObjectMeta(name=name, labels=MANAGED),
        role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=role),
        subjects=[client.RbacV1Subject(kind=kind, name=subject, api_group="rbac.authorization.k8s.io")])


def _apply(create: Any, replace: Any, name: str, body: Any) -> None:
    try:
        create(body)
    except ApiException as error:
        if error.status != 409:
            raise
        replace(name, body)


def ensure_rbac(api: client.ApiClient) -> None:
    rbac = client.RbacAuthorizationV1Api(api)
    csr_role = "system:certificates.k8s.io:certificatesigningrequests"
    bindings = [
        _binding("kubebook:node-bootstrapper", "system:node-bootstrapper", "Group", BOOTSTRAP_GROUP),
        _binding("kubebook:node-autoapprove-bootstrap", f"{csr_role}:nodeclient", "Group", BOOTSTRAP_GROUP),
        _binding("kubebook:node-autoapprove-renewal", f"{csr_role}:selfnodeclient", "Group", "system:nodes"),
        _binding("kubebook:kube-router", "kubebook:kube-router", "User", ROUTER_USER),
    ]
    read = ["get", "list", "watch"]
    router_role = client.V1ClusterRole(metadata=client.V1ObjectMeta(name="kubebook:kube-router", labels=MANAGED),
                                       rules=[
        client.V1PolicyRule(api_groups=[""], resources=["namespaces", "pods", "services", "nodes", "endpoints"],
                            verbs=read),
        client.V1PolicyRule(api_groups=["networking.k8s.io"], resources=["networkpolicies"], verbs=read),
        client.V1PolicyRule(api_groups=["discovery.k8s.io"], resources=["endpointslices"], verbs=read),
    ])
    _apply(rbac.create_cluster_role, rbac.replace_cluster_role, "kubebook:kube-router", router_role)
    for binding in bindings:
        _apply(rbac.create_cluster_role_binding, rbac.replace_cluster_role_binding, binding.metadata.name, binding)


def serving_request_ok(request_pem: bytes, node_name: str, node_ip: str) -> bool:
    """True when a kubelet-serving CSR names only this node's name and address."""
    request = x509.load_pem_x509_csr(request_pem)
    try:
        names = request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    dns = set(names.get_values_for_type(x509.DNSName))
    ips = {str(ip) for ip in names.get_values_for_type(x509.IPAddress)}
    common = request.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
    return (bool(common) and common[0].value == f"system:node:{node_name}" and dns <= {node_name}
            and ips <= {str(ipaddress.ip_address(node_ip))} and bool(dns | ips))


def approve_serving_csrs(api: client.ApiClient, node_name: str, node_ip: str) -> list[str]:
    """Approve pending kubelet-serving CSRs of this node that pass ``serving_request_ok``."""
    certificates = client.CertificatesV1Api(api)
    approved = []
    for csr in certificates.list_certificate_signing_request().items:
        spec, status = csr.spec, csr.status
        if spec.signer_name != "kubernetes.io/kubelet-serving" or spec.username != f"system:node:{node_name}":
            continue
        if status and status.conditions:
            continue
        import base64

        if not serving_request_ok(base64.b64decode(spec.request), node_name, node_ip):
            continue
        csr.status = client.V1CertificateSigningRequestStatus(conditions=[client.V1CertificateSigningRequestCondition(
            type="Approved", status="True", reason="KubebookNodeIdentity",
            message="requester is the node and every name and address is its own")])
        certificates.replace_certificate_signing_request_approval(csr.metadata.name, csr)
        approved.append(csr.metadata.name)
    return approved


def node_ready(api: client.ApiClient, node_name: str) -> bool:
    try:
        node = client.CoreV1Api(api).read_node(node_name)
    except ApiException:
        return False
    return any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])
