import Glibc
import LocalSupervision

// The local backend's per-attempt supervisor, kept apart from `trainyard` so that starting it
// loads no Foundation, Kafka or SQLite: see LocalSupervisor.
exit(LocalSupervisor.main(arguments: Array(CommandLine.arguments.dropFirst())))
