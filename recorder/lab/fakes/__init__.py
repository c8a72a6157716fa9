"""Faithful wire-level fakes of what gapwatch talks to, for the lab and the tests: the
kube-apiserver (`fakeapi`, state in `fakestore`), kube-proxy's ports (`fakeproxy`), moto's ELBv2
server behind a health-rewriting, throttling proxy (`fakeelb`)."""
