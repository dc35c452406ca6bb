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

/// Follows a log that can only be polled (files, CloudWatch): calls `readMore` until it returns
/// nothing new after `attemptEnded()` said true, waiting `interval` between empty polls.
public struct LogPoller: Sendable {
    public var interval: Duration

    public init(interval: Duration = .milliseconds(500)) { self.interval = interval }

    /// Yields what `readMore` returns; asks `attemptEnded` before each read, so the read after
    /// the attempt ended is the last and nothing printed before the end is missed.
    public func follow(
        into continuation: AsyncThrowingStream<String, any Error>.Continuation, attemptEnded: @Sendable () async -> Bool,
        readMore: () async throws -> String
    ) async throws {
        while !Task.isCancelled {
            let ended = await attemptEnded()
            let text = try await readMore()
            if !text.isEmpty { continuation.yield(text) }
            if ended { return }
            if text.isEmpty { try await Task.sleep(for: interval) }
        }
    }
}
