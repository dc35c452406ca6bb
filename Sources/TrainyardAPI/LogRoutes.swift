import Foundation
import HTTPTypes
import Hummingbird
import Logging
import TrainyardBackends
import TrainyardCore
import TrainyardStore

/// The backends' log readers the API serves `GET /v1/jobs/{id}/logs` from, by backend name.
public struct LogSources: Sendable {
    let byBackend: [String: any LogSource]
    /// How often a follow asks the store whether the attempt has ended.
    let pollInterval: Duration

    public init(_ sources: [any LogSource], pollInterval: Duration = .milliseconds(500)) {
        byBackend = Dictionary(sources.map { ($0.backendName, $0) }, uniquingKeysWith: { first, _ in first })
        self.pollInterval = pollInterval
    }

    /// Shuts every source down (after the HTTP server stopped).
    public func shutdown() async {
        for source in byBackend.values { await source.shutdown() }
    }
}

/// The query of `GET /v1/jobs/{id}/logs`: attempt (default the latest), follow, tail, and
/// `stderr` or `all` (default stdout). Unknown parameters are ignored, like the list's.
public struct LogParameters: Sendable {
    static let maxTail = 100_000

    public var attempt: Int?
    public var follow = false
    public var tail: Int?
    public var streams = LogStreamSelection.stdout

    public init(attempt: Int? = nil, follow: Bool = false, tail: Int? = nil, streams: LogStreamSelection = .stdout) {
        self.attempt = attempt
        self.follow = follow
        self.tail = tail
        self.streams = streams
    }

    init(_ pairs: [(name: String, value: String)]) throws(APIError) {
        var parameters = QueryParameters(pairs)
        func flag(_ name: String) -> Bool {
            guard let text = parameters.value(name) else { return false }
            guard let parsed = Bool(text.lowercased()) else {
                parameters.refuse(name, "must be true or false")
                return false
            }
            return parsed
        }
        func number(_ name: String, in range: ClosedRange<Int>) -> Int? {
            guard let text = parameters.value(name) else { return nil }
            guard let parsed = Int(text), range.contains(parsed) else {
                parameters.refuse(name, "must be a whole number from \(range.lowerBound) to \(range.upperBound)")
                return nil
            }
            return parsed
        }
        attempt = number("attempt", in: 1...JobSpecValidator.maxAttempts)
        tail = number("tail", in: 0...Self.maxTail)
        follow = flag("follow")
        let stderr = flag("stderr")
        let all = flag("all")
        if stderr && all { parameters.refuse("all", "cannot be combined with stderr; choose one") }
        streams = all ? .all : stderr ? .stderr : .stdout
        try parameters.check("invalid log request")
    }
}

/// `GET /v1/jobs/{id}/logs`: what an attempt printed, as `text/plain`, read from the backend
/// that ran it. Reading never changes the job; another team's job is the same 404 as an
/// unknown one.
struct LogRoutes: Sendable {
    let store: JobStore
    let authenticator: Authenticator
    let sources: LogSources
    let logger: Logger

    func register(on router: Router<BasicRequestContext>) {
        router.get("v1/jobs/:id/logs") { request, context in try await logs(request, id: context.parameters.get("id") ?? "") }
    }

    func logs(_ request: Request, id: String) async throws -> Response {
        let principal = try authenticator.require(request)
        guard let jobID = JobID(id), let record = try store.job(jobID), principal.canAccess(team: record.team) else {
            throw APIError.jobNotFound(id)
        }
        let parameters = try LogParameters(request.queryPairs)
        let (attempt, text) = try await sources.open(record, parameters: parameters, store: store)
        let body = LogResponseBody(text: text, logger: logger, jobID: jobID, attempt: attempt)
        return Response(
            status: .ok,
            headers: [.contentType: "text/plain; charset=utf-8", .cacheControl: "no-store", HTTPField.Name("Trainyard-Attempt")!: String(attempt)],
            body: ResponseBody(asyncSequence: body))
    }
}

/// The log text as response bytes, read only as fast as the client takes them. A read that
/// fails after the status line was sent ends the text with a note saying so.
struct LogResponseBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let text: AsyncThrowingStream<String, any Error>
    let logger: Logger
    let jobID: JobID
    let attempt: Int

    func makeAsyncIterator() -> Iterator { Iterator(text: text.makeAsyncIterator(), body: self) }

    struct Iterator: AsyncIteratorProtocol {
        var text: AsyncThrowingStream<String, any Error>.AsyncIterator
        let body: LogResponseBody
        var failed = false

        mutating func next() async throws -> ByteBuffer? {
            guard !failed else { return nil }
            do {
                return try await text.next().map { ByteBuffer(string: $0) }
            } catch {
                failed = true
                body.logger.warning("log of \(body.jobID) attempt \(body.attempt) ended early: \(error)")
                return ByteBuffer(string: "\n[trainyard: the log could not be read further: \(error)]\n")
            }
        }
    }
}

extension LogSources {
    /// Opens the log of `record`'s attempt that `parameters` name (default the latest; a follow of
    /// a queued job waits for its first attempt): the attempt's number and its text. Throws the
    /// API's answer when there is no such attempt or log.
    public func open(_ record: JobRecord, parameters: LogParameters, store: JobStore) async throws -> (
        attempt: Int, text: AsyncThrowingStream<String, any Error>
    ) {
        var record = record
        let jobID = record.jobID
        while parameters.follow && parameters.attempt == nil && record.attempt == 0 && !record.state.isTerminal {
            try await Task.sleep(for: pollInterval)
            record = try store.job(jobID) ?? record
        }
        let attempt = parameters.attempt ?? record.attempt
        guard attempt >= 1, let status = try store.attempts(of: jobID).first(where: { $0.attempt == attempt }) else {
            throw APIError(.notFound, "log_not_found", "job \(jobID) has no attempt \(attempt == 0 ? "yet" : String(attempt))")
        }
        guard let backend = status.decisive.backend ?? record.backend else {
            throw APIError(.notFound, "log_not_found", "attempt \(attempt) of job \(jobID) has not reached a backend yet")
        }
        guard let source = byBackend[backend] else {
            throw APIError(
                .serviceUnavailable, "logs_unavailable",
                "this aggregator reads no \(backend) logs: give it the workers' configuration file (--worker-config)")
        }
        let query = LogQuery(
            identity: BackendIdentity(jobID: jobID, attempt: attempt, team: record.team), kind: record.kind.flatMap(JobKind.init(rawValue:)),
            streams: parameters.streams, tail: parameters.tail, follow: parameters.follow)
        do {
            return (attempt, try await source.read(query) { Self.hasEnded(attempt, of: jobID, in: store) })
        } catch {
            throw Self.apiError(error, jobID: jobID, attempt: attempt)
        }
    }

    /// True when the attempt is final in the store, or a later attempt has begun.
    static func hasEnded(_ attempt: Int, of jobID: JobID, in store: JobStore) -> Bool {
        guard let record = try? store.job(jobID) else { return false }
        if record.attempt > attempt { return true }
        guard let status = try? store.attempts(of: jobID).first(where: { $0.attempt == attempt }) else { return record.state.isTerminal }
        return status.state.isTerminal
    }

    static func apiError(_ error: any Error, jobID: JobID, attempt: Int) -> APIError {
        guard let error = error as? LogSourceError else {
            return APIError(.internalServerError, "internal", "the log of job \(jobID) attempt \(attempt) could not be read")
        }
        switch error.kind {
        case .notFound: return APIError(.notFound, "log_not_found", "no log of job \(jobID) attempt \(attempt): \(error.message)")
        case .unavailable: return APIError(.serviceUnavailable, "logs_unavailable", error.message)
        }
    }
}
