import Foundation
import Glibc

/// The one-writer lock of a store: an exclusive `flock` on `<store>.lock`, held while the
/// aggregator runs, so a second aggregator cannot write the same store (its ingest, outbox and
/// offsets assume a single writer). The kernel releases it when the process ends, however it
/// ends; the file keeps the holder's process id for the message a second aggregator prints.
public final class StoreLock: Sendable {
    /// What `acquire` found.
    public enum Attempt: Sendable {
        case acquired(StoreLock)
        /// Another open of the lock file holds it; its process id when the file names one.
        case held(by: Int32?)
    }

    public let path: String
    private let descriptor: Int32

    private init(path: String, descriptor: Int32) {
        self.path = path
        self.descriptor = descriptor
    }

    /// The lock file of the store at `storePath`.
    public static func path(forStore storePath: String) -> String { storePath + ".lock" }

    /// Takes the lock without waiting.
    public static func acquire(store storePath: String) throws -> Attempt {
        let path = path(forStore: storePath)
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw StoreLockError(path: path, errno: errno) }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let failure = errno
            let holder = readHolder(descriptor)
            close(descriptor)
            guard failure == EWOULDBLOCK else { throw StoreLockError(path: path, errno: failure) }
            return .held(by: holder)
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(descriptor, 0)
        _ = pid.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        return .acquired(StoreLock(path: path, descriptor: descriptor))
    }

    deinit { close(descriptor) }

    private static func readHolder(_ descriptor: Int32) -> Int32? {
        var bytes = [UInt8](repeating: 0, count: 16)
        let count = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        return Int32(String(decoding: bytes[..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

/// The lock file could not be opened or locked (not: another process holds it).
public struct StoreLockError: Error, CustomStringConvertible {
    public var path: String
    public var errno: Int32
    public var description: String { "cannot lock \(path): \(String(cString: strerror(errno)))" }
}
