"""The OCI driver layer: a runtime's command line as typed Python, bundles, rootfs, containers, consoles, and what the host and the runtime offer. No pytest here but skip reasons."""
