import Synchronization
import TrainyardCore

/// Which of an attempt's output streams to read.
public enum LogStreamSelection: String, Sendable, CaseIterable {
    case stdout, stderr, all
}

/// What to read of one attempt's log.
public struct LogQuery: Sendable {
    /// The attempt (its resource name and labels find the backend's log).
    public var identity: BackendIdentity
    /// The job's kind (SageMaker keeps training and processing logs in different groups).
    public var kind: JobKind?
    public var streams: LogStreamSelection
    /// Only the last `tail` lines of what is there now (then, with `follow`, what comes after).
    public var tail: Int?
    /// Keep reading until the attempt ends.
    public var follow: Bool

    public init(identity: BackendIdentity, kind: JobKind? = nil, streams: LogStreamSelection = .stdout, tail: Int? = nil, follow: Bool = false) {
        self.identity = identity
        self.kind = kind
        self.streams = streams
        self.tail = tail
        self.follow = follow
    }
}

/// Reads what an attempt printed from the backend that ran it (the run directory, pods/log,
/// CloudWatch Logs), so the worker that started it need not be alive. Reading never changes
/// the attempt. Kept apart from `ComputeBackend`: the aggregator reads logs, workers run jobs.
public protocol LogSource: Sendable {
    /// The backend name lifecycle events carry (`local`, `kubernetes`, `sagemaker`, `simulated`).
    var backendName: String { get }

    /// Finds the attempt's log (throws `LogSourceError.notFound` when the backend has none) and
    /// returns its text as chunks, each ending at a line end (a last line without one comes when
    /// the output ends). Without `follow` the chunks end with what is there now; with it, after
    /// `attemptEnded()` returned true and the rest was read.
    func read(_ query: LogQuery, attemptEnded: @escaping @Sendable () async -> Bool) async throws -> AsyncThrowingStream<String, any Error>

    /// Releases what the source holds open (an HTTP client); called once when the process stops.
    func shutdown() async
}

extension LogSource {
    /// Nothing held open.
    public func shutdown() async {}
}

/// Why a log could not be read.
public struct LogSourceError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable {
        /// The backend has no log for this attempt (never started there, or removed since).
        case notFound
        /// The backend could not be asked (unreachable, throttled, misconfigured); retrying may help.
        case unavailable
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// Keeps only the last `count` lines of `text` (a last line without a line end counts as one).
public func lastLines(of text: Substring, count: Int) -> Substring {
    guard count > 0 else { return text[text.endIndex...] }
    var index = text.endIndex
    var seen = 0
    if text.last == "\n" { index = text.index(before: index) }
    while index > text.startIndex {
        let previous = text.index(before: index)
        if text[previous] == "\n" {
            seen += 1
            if seen == count { return text[index...] }
        }
        index = previous
    }
    return text
}

/// Reads a log that can only be polled (files, CloudWatch) on demand: each element the reader
/// asks for is one more read, so a slow reader never makes the source read ahead into memory.
public struct LogPoller: Sendable {
    public var interval: Duration

    public init(interval: Duration = .milliseconds(500)) { self.interval = interval }

    /// The text `read` returns, read after read. With `follow`, `read(false)` (what is complete
    /// so far) is called until `attemptEnded()` said true before the read, waiting `interval`
    /// after an empty one; then `read(true)` (everything, a last partial line included) until it
    /// returns nothing. Asking before reading means nothing printed before the end is missed.
    public func stream(
        follow: Bool, attemptEnded: @escaping @Sendable () async -> Bool, read: @escaping @Sendable (_ final: Bool) async throws -> String
    ) -> AsyncThrowingStream<String, any Error> {
        let phase = LogPollPhase(follow ? .following : .draining)
        let interval = interval
        return AsyncThrowingStream {
            while true {
                switch phase.current {
                case .following:
                    let ended = await attemptEnded()
                    let text = try await read(false)
                    if ended { phase.current = .draining }
                    if !text.isEmpty { return text }
                    if !ended { try await Task.sleep(for: interval) }
                case .draining:
                    let text = try await read(true)
                    if text.isEmpty { phase.current = .done }
                    return text.isEmpty ? nil : text
                case .done:
                    return nil
                }
            }
        }
    }
}

/// Where a polled log's reading is; the stream's elements are asked for one at a time.
final class LogPollPhase: Sendable {
    enum Phase { case following, draining, done }
    private let phase: Mutex<Phase>

    init(_ phase: Phase) { self.phase = Mutex(phase) }

    var current: Phase {
        get { phase.withLock { $0 } }
        set { phase.withLock { $0 = newValue } }
    }
}
