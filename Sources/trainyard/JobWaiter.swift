import Foundation
import Glibc
import TrainyardClient
import TrainyardCore
import TrainyardStore

/// Where `--wait` reads job states, writing to standard output (live when it is a terminal).
extension JobWaiter {
    /// Reads job states from the aggregator's store (the embedded default).
    static func store(databasePath: String, timeout: Duration) -> JobWaiter {
        /// Opened once, as soon as the aggregator has created the file, then reused for every read.
        final class OpenedStore {
            var store: JobStore?
        }
        let opened = OpenedStore()
        return JobWaiter(timeout: timeout, live: isatty(STDOUT_FILENO) == 1, write: writeToStandardOutput) { id in
            if opened.store == nil { opened.store = try? JobStore(readingAt: databasePath) }
            guard let record = try? opened.store?.job(id) else { return nil }
            return JobProgressLine(state: record.state, reason: record.reason, exitCode: record.exitCode)
        }
    }

    /// Reads job states through the HTTP API.
    static func api(_ client: APIClient, timeout: Duration) -> JobWaiter {
        JobWaiter(timeout: timeout, live: isatty(STDOUT_FILENO) == 1, write: writeToStandardOutput) { id in
            try await client.job(id).map { JobProgressLine(state: $0.state, reason: $0.reason, exitCode: $0.exitCode) }
        }
    }

    private static func writeToStandardOutput(_ text: String) {
        print(text, terminator: "")
        fflush(nil)  // all streams: `stdout` itself is not concurrency-safe to name
    }
}
