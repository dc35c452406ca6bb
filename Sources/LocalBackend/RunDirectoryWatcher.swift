import Foundation
import Glibc
import Synchronization

/// The local backend's push: wakes the tasks waiting on a run directory when a file appears in
/// it (`started.json`, `status.json`, the supervisor's lock file) or a writer closes one (the
/// kernel closes the lock file when the supervisor exits, however it exits).
///
/// One inotify descriptor and one thread serve every waiter of the backend; the thread sleeps in
/// `poll(2)` until an event, a new waiter (through a pipe) or the earliest waiter's timeout.
final class RunDirectoryWatcher: Sendable {
    private struct Waiter {
        var watch: Int32
        var deadline: ContinuousClock.Instant?
        var fired = false
        var continuation: CheckedContinuation<Void, Never>?
    }

    private struct State {
        var nextToken = 0
        var waiters: [Int: Waiter] = [:]
        var tokensByWatch: [Int32: Set<Int>] = [:]
    }

    private static let mask = UInt32(IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE_SELF)
    private let inotify: Int32
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let state = Mutex(State())

    /// Nil when inotify is not available (the backend then polls).
    init?() {
        inotify = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        guard inotify >= 0 else { return nil }
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else {
            close(inotify)
            return nil
        }
        for end in ends {
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
            _ = fcntl(end, F_SETFL, O_NONBLOCK)
        }
        wakeRead = ends[0]
        wakeWrite = ends[1]
        // Lives as long as the process's backend (one per worker process).
        let thread = Thread { [self] in serve() }
        thread.name = "trainyard-local-watch"
        thread.start()
    }

    /// Starts watching `directory` for the caller; events from now on are kept for `wait`.
    /// Nil when the directory cannot be watched.
    func register(_ directory: String) -> Int? {
        state.withLock { state in
            let watch = inotify_add_watch(inotify, directory, Self.mask)
            guard watch >= 0 else { return nil }
            let token = state.nextToken
            state.nextToken += 1
            state.waiters[token] = Waiter(watch: watch)
            state.tokensByWatch[watch, default: []].insert(token)
            return token
        }
    }

    /// Stops watching for `token`'s caller.
    func unregister(_ token: Int) {
        let continuation = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiters.removeValue(forKey: token) else { return nil }
            state.tokensByWatch[waiter.watch]?.remove(token)
            if state.tokensByWatch[waiter.watch]?.isEmpty == true {
                state.tokensByWatch[waiter.watch] = nil
                inotify_rm_watch(inotify, waiter.watch)
            }
            return waiter.continuation
        }
        continuation?.resume()
    }

    /// Returns once something happened in the registered directory since `register` (perhaps
    /// already), after `timeout`, or when the task is cancelled.
    func wait(_ token: Int, timeout: Duration) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let waiting = state.withLock { state -> Bool in
                    guard var waiter = state.waiters[token], !waiter.fired else { return false }
                    waiter.continuation = continuation
                    waiter.deadline = .now + timeout
                    state.waiters[token] = waiter
                    return true
                }
                if waiting { poke() } else { continuation.resume() }
            }
        } onCancel: {
            fire([token])
        }
    }

    private func fire(_ tokens: some Sequence<Int>) {
        let continuations = state.withLock { state in
            tokens.compactMap { token -> CheckedContinuation<Void, Never>? in
                guard var waiter = state.waiters[token] else { return nil }
                waiter.fired = true
                let continuation = waiter.continuation
                waiter.continuation = nil
                state.waiters[token] = waiter
                return continuation
            }
        }
        for continuation in continuations { continuation.resume() }
    }

    /// Wakes the thread so that it sees a new deadline.
    private func poke() {
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }

    private func serve() {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let now = ContinuousClock.now
            let (expired, earliest) = state.withLock { state in
                var expired: [Int] = []
                var earliest: ContinuousClock.Instant?
                for (token, waiter) in state.waiters where waiter.continuation != nil {
                    guard let deadline = waiter.deadline else { continue }
                    if deadline <= now { expired.append(token) } else { earliest = min(earliest ?? deadline, deadline) }
                }
                return (expired, earliest)
            }
            fire(expired)
            // Milliseconds until the earliest deadline, rounded up; -1: none (wait for an event or a poke).
            let timeout =
                earliest.map { deadline -> Int32 in
                    let left = (deadline - now).components
                    return Int32(clamping: left.seconds * 1000 + left.attoseconds / 1_000_000_000_000_000 + 1)
                } ?? -1
            var descriptors = [pollfd(fd: inotify, events: Int16(POLLIN), revents: 0), pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
            guard poll(&descriptors, 2, timeout) > 0 else { continue }
            if descriptors[1].revents != 0 { _ = buffer.withUnsafeMutableBytes { read(wakeRead, $0.baseAddress, $0.count) } }
            guard descriptors[0].revents != 0 else { continue }
            let count = buffer.withUnsafeMutableBytes { read(inotify, $0.baseAddress, $0.count) }
            guard count > 0 else { continue }
            var watches: Set<Int32> = []
            var overflowed = false
            var offset = 0
            let headerSize = MemoryLayout<inotify_event>.size
            while offset + headerSize <= count {
                let event = buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: inotify_event.self) }
                if event.wd < 0 { overflowed = true } else { watches.insert(event.wd) }
                offset += headerSize + Int(event.len)
            }
            let tokens = state.withLock { state in
                overflowed ? Array(state.waiters.keys) : watches.flatMap { state.tokensByWatch[$0] ?? [] }
            }
            fire(tokens)
        }
    }
}
