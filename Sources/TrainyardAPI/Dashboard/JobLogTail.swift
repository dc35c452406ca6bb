import Foundation
import TrainyardStore

/// The last lines of a job's latest attempt for its dashboard page, or why there are none.
struct JobLogTail {
    static let lines = 20
    /// Largest tail shown; the link has the rest.
    static let maxBytes = 16 * 1024

    var text: String?
    var note: String?

    /// Reads the tail of stdout and stderr (never follows). A backend that does not answer within
    /// `timeout` leaves a note instead: the page must not wait on it.
    static func read(_ record: JobRecord, sources: LogSources, store: JobStore, timeout: Duration = .seconds(3)) async -> JobLogTail {
        guard record.attempt >= 1 else { return JobLogTail(note: "no attempt has started yet") }
        return await withTaskGroup(of: JobLogTail.self) { group in
            group.addTask {
                do {
                    let opened = try await sources.open(record, parameters: LogParameters(tail: lines, streams: .all), store: store)
                    var text = ""
                    for try await chunk in opened.text {
                        text += chunk
                        if text.utf8.count > maxBytes { break }
                    }
                    return text.isEmpty ? JobLogTail(note: "nothing printed") : JobLogTail(text: String(text.suffix(maxBytes)))
                } catch let error as APIError {
                    return JobLogTail(note: error.message)
                } catch {
                    return JobLogTail(note: "the log could not be read")
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return JobLogTail(note: "the backend did not answer in time; open the whole log")
            }
            let first = await group.next() ?? JobLogTail(note: "the log could not be read")
            group.cancelAll()
            return first
        }
    }
}
