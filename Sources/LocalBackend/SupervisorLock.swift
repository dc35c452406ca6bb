import Foundation
import Glibc

/// The supervisor's liveness: an exclusive POSIX record lock on `supervisor.lock`, held for the
/// supervisor's whole life and released by the kernel when it exits, however it exits.
enum SupervisorLock {
    /// Takes the lock for this process; returns the open descriptor, or nil when another process holds it.
    static func acquire(_ file: URL) throws -> Int32? {
        let descriptor = open(file.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw POSIXError.current("open \(file.lastPathComponent)") }
        var lock = flock()
        lock.l_type = Int16(F_WRLCK)
        lock.l_whence = Int16(SEEK_SET)
        if fcntl(descriptor, F_SETLK, &lock) == 0 { return descriptor }
        close(descriptor)
        return nil
    }

    /// True when some process holds the lock. Only tests it (`F_GETLK`), never takes it, so it
    /// cannot get in the way of a supervisor starting at the same moment.
    static func isHeld(_ file: URL) -> Bool {
        let descriptor = open(file.path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var lock = flock()
        lock.l_type = Int16(F_WRLCK)
        lock.l_whence = Int16(SEEK_SET)
        guard fcntl(descriptor, F_GETLK, &lock) == 0 else { return false }
        return lock.l_type != Int16(F_UNLCK)
    }
}
