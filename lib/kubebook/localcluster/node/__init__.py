"""A real worker node beside the KWOK nodes (opt-in: ``kubebook cluster up --real-nodes 1``).

kubelet + containerd + Debian's runc + CNI bridge + kube-router's NetworkPolicy firewall, images
from a loopback registry. ``hostcheck`` says whether this host can run one, ``runtime.RealNode``
brings it up and sweeps it away, ``cleanup``/``network`` find and remove what it leaves on the host.
"""
