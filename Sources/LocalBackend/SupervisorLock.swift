import Foundation
import Glibc

/// The supervisor's liveness: an exclusive POSIX record lock on `supervisor.lock`, held for the
/// supervisor's whole life and released by the kernel when it exits, however it exits.
enum SupervisorLock {
    /// The pid of the process holding the lock (0 when it lives in another PID namespace), or
    /// nil when none does. Only tests the lock (`F_GETLK`), never takes it, so it cannot get in
    /// the way of a supervisor starting at the same moment.
    static func holder(_ path: String) -> pid_t? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var lock = flock()
        lock.l_type = Int16(F_WRLCK)
        lock.l_whence = Int16(SEEK_SET)
        guard fcntl(descriptor, F_GETLK, &lock) == 0, lock.l_type != Int16(F_UNLCK) else { return nil }
        return lock.l_pid
    }

    /// True when some process holds the lock.
    static func isHeld(_ path: String) -> Bool { holder(path) != nil }
}
