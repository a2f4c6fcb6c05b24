"""One pytest process's runtimes: options, a private base directory, work directories, cgroups, and the cleanup that owns them."""
