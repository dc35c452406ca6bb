import TrainyardBackends
import TrainyardCore

/// A simulated attempt runs no process, so its log is one scripted line on stdout (none on stderr).
public struct SimulatedLogSource: LogSource {
    public let backendName = "simulated"

    public init() {}

    public func read(_ query: LogQuery, attemptEnded: @escaping @Sendable () async -> Bool) async throws -> AsyncThrowingStream<String, any Error> {
        let line = "simulated attempt \(query.identity.attempt) of job \(query.identity.jobID): no process ran, nothing was printed\n"
        let text = query.streams == .stderr || query.tail == 0 ? "" : line
        return AsyncThrowingStream { continuation in
            if !text.isEmpty { continuation.yield(text) }
            continuation.finish()
        }
    }
}
