import Foundation
import Synchronization
import TrainyardCore

/// Submits in flight in this process, by job id, with the spec each one carries: a second
/// submit of the same id (same team and Idempotency-Key) with another spec, while the first is
/// still being handed to the broker, is refused instead of racing it (Stripe's semantics: one
/// key, one request body). The store is the check once a submit is visible there.
final class IdempotencyGate: Sendable {
    private struct Holder {
        var spec: Data
        var count: Int
    }

    private let inFlight = Mutex<[JobID: Holder]>([:])

    /// The canonical encoding that two submits must share to be the same request.
    static func fingerprint(_ spec: JobSpec) -> Data { (try? WireFormat.encoder().encode(spec)) ?? Data() }

    /// Registers a submit of `id` carrying `spec`; false when another one with a different spec is in flight.
    func enter(_ id: JobID, spec: Data) -> Bool {
        inFlight.withLock { table in
            if let holder = table[id] {
                guard holder.spec == spec else { return false }
                table[id]?.count += 1
            } else {
                table[id] = Holder(spec: spec, count: 1)
            }
            return true
        }
    }

    /// Ends a submit that `enter` let in.
    func leave(_ id: JobID) {
        inFlight.withLock { table in
            guard let holder = table[id] else { return }
            if holder.count <= 1 { table[id] = nil } else { table[id]?.count -= 1 }
        }
    }
}
