"""`gapwatch lab`: a simulated cluster served over the real protocols (fakes of the kube-apiserver,
kube-proxy's health-check ports and ELBv2), recorded by the real `gapwatch record`, replayed, and
compared with the simulator's truth, while faults are injected (docs/lab.md)."""
