import Foundation
import Synchronization

/// A thread that runs one blocking librdkafka call in a loop until stopped, so blocking polls
/// never occupy Swift's cooperative thread pool.
final class RDKafkaPollThread: Sendable {
    private let running = Atomic<Bool>(true)
    private let finished = Mutex<(done: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    /// Starts the thread; `iteration` should block for a bounded time (e.g. a 100 ms poll).
    init(name: String, iteration: @escaping @Sendable () -> Void) {
        let thread = Thread { [self] in
            while running.load(ordering: .acquiring) { iteration() }
            let waiters = finished.withLock { state in
                state.done = true
                return state.waiters
            }
            waiters.forEach { $0.resume() }
        }
        thread.name = name
        thread.start()
    }

    /// Asks the loop to end and waits for its current iteration to return.
    func stop() async {
        running.store(false, ordering: .releasing)
        await withCheckedContinuation { continuation in
            let alreadyDone = finished.withLock { state in
                if !state.done { state.waiters.append(continuation) }
                return state.done
            }
            if alreadyDone { continuation.resume() }
        }
    }

    var isRunning: Bool { running.load(ordering: .acquiring) }
}

/// Runs blocking librdkafka calls (flush, commit, close, admin) off the cooperative pool.
enum RDKafkaBlocking {
    private static let queue = DispatchQueue(label: "trainyard-kafka-blocking", attributes: .concurrent)

    static func run<Value: Sendable, Failure: Error>(_ body: @escaping @Sendable () throws(Failure) -> Value) async throws(Failure) -> Value {
        let result: Result<Value, Failure> = await withCheckedContinuation { continuation in
            queue.async {
                do throws(Failure) { continuation.resume(returning: .success(try body())) } catch { continuation.resume(returning: .failure(error)) }
            }
        }
        return try result.get()
    }

    static func run<Value: Sendable>(_ body: @escaping @Sendable () -> Value) async -> Value {
        await withCheckedContinuation { continuation in queue.async { continuation.resume(returning: body()) } }
    }
}
