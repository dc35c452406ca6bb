import Foundation
import HTTPTypes
import Hummingbird
import Logging
import TrainyardCore
import TrainyardStore

/// The `/v1/jobs` endpoints. Reads come from the store; submit and cancel go to the requests
/// topic through `send`, like the CLI's.
struct JobRoutes: Sendable {
    let store: JobStore
    let authenticator: Authenticator
    let send: JobRequestSender
    let configuration: APIConfiguration
    let logger: Logger
    let idempotency = IdempotencyGate()

    func register(on router: Router<BasicRequestContext>) {
        router.post("v1/jobs") { request, _ in try await submit(request) }
        router.get("v1/jobs") { request, _ in try list(request) }
        router.get("v1/jobs/:id") { request, context in try detail(request, id: context.parameters.get("id") ?? "") }
        router.get("v1/jobs/:id/events") { request, context in try events(request, id: context.parameters.get("id") ?? "") }
        router.post("v1/jobs/:id/cancel") { request, context in try await cancel(request, id: context.parameters.get("id") ?? "") }
    }

    func submit(_ request: Request) async throws -> Response {
        let principal = try authenticator.require(request)
        let body = try await request.body.collect(upTo: configuration.maxSpecBytes)
        var spec = try SpecDocument.parse(Data(buffer: body), contentType: request.headers[.contentType])
        if let key = request.headers[HTTPField.Name("Idempotency-Key")!] {
            spec.idempotencyKey = key
            do {
                try JobSpecParser.validate(spec)
            } catch {
                throw APIError.invalid(
                    "invalid Idempotency-Key header",
                    fields: error.violations.map {
                        SpecViolation(field: $0.field == "idempotencyKey" ? "Idempotency-Key" : $0.field, message: $0.message)
                    })
            }
        }
        guard principal.canAccess(team: spec.team) else {
            throw APIError(.forbidden, "forbidden", "this key submits only for team \(principal.team ?? "")")
        }
        if let violation = configuration.secretPolicy.violationOnEveryTarget(of: spec) {
            throw APIError.invalid("secret not allowed for team \(spec.team)", fields: [violation])
        }
        let command = SubmitCommand(spec: spec)
        let location: HTTPFields = [.location: "/v1/jobs/\(command.jobID)"]
        let fingerprint = IdempotencyGate.fingerprint(spec)
        // A resubmission (same team and idempotency key) of a job already stored is answered from
        // the store; nothing is sent again. With another spec it is a conflict.
        if let existing = try store.job(command.jobID), existing.submittedAt != nil {
            try refuseConflict(command.jobID, fingerprint)
            return JSONResponse.make(status: .accepted, SubmitAccepted(jobId: command.jobID, state: existing.state.rawValue), headers: location)
        }
        guard idempotency.enter(command.jobID, spec: fingerprint) else { throw Self.conflict(command.jobID) }
        defer { idempotency.leave(command.jobID) }
        do {
            try await send(.submit(command))
        } catch {
            logger.error("submit \(command.jobID) could not be published: \(error)")
            throw APIError(
                .serviceUnavailable, "unavailable", "the request could not be handed to the broker; retry (the same Idempotency-Key is safe)")
        }
        logger.info("job \(command.jobID) submitted through the API by key \(principal.name)")
        let state = await visibleState(of: command.jobID)
        // Another process may have submitted the same key with another spec first: the store
        // keeps the first, which is the one that runs.
        if state != nil, spec.idempotencyKey != nil { try refuseConflict(command.jobID, fingerprint) }
        return JSONResponse.make(status: .accepted, SubmitAccepted(jobId: command.jobID, state: state?.rawValue ?? "SUBMITTED"), headers: location)
    }

    /// A 409 when the stored spec of `id` is not the one this request carries.
    private func refuseConflict(_ id: JobID, _ fingerprint: Data) throws {
        guard let stored = try store.spec(of: id), IdempotencyGate.fingerprint(stored) != fingerprint else { return }
        throw Self.conflict(id)
    }

    static func conflict(_ id: JobID) -> APIError {
        APIError(
            .conflict, "idempotency_conflict",
            "this Idempotency-Key was already used for job \(id) with a different spec; send the same spec again, or use a new key for a new job")
    }

    /// Waits (bounded) for the aggregator to store the job; its state, or nil when it did not in time.
    private func visibleState(of id: JobID) async -> JobState? {
        await visibleState(of: id, on: configuration.clock)
    }

    private func visibleState<C: Clock<Duration>>(of id: JobID, on clock: C) async -> JobState? {
        let deadline = clock.now.advanced(by: configuration.submitVisibilityWait)
        while true {
            if let record = try? store.job(id), record.submittedAt != nil { return record.state }
            guard clock.now < deadline else { return nil }
            do { try await clock.sleep(for: .milliseconds(20)) } catch { return nil }  // cancelled: the request is gone
        }
    }

    func list(_ request: Request) throws -> Response {
        let principal = try authenticator.require(request)
        var query = try ListParameters(request.queryPairs).query
        if let team = principal.team {
            if let asked = query.team, asked != team {
                throw APIError(.forbidden, "forbidden", "this key lists only team \(team)'s jobs")
            }
            query.team = team
        }
        let pageSize = query.limit
        query.limit = pageSize + 1
        let records = try store.jobs(matching: query)
        let page = Array(records.prefix(pageSize))
        let next = records.count > pageSize ? page.last.map { PageCursor.encode(after: $0.jobID) } : nil
        return JSONResponse.make(JobListPage(jobs: page.map(JobStatusMessage.init), nextCursor: next))
    }

    /// The job, if `principal` may see it; otherwise the same 404 as for a job that does not exist.
    func visibleJob(_ id: String, to principal: Principal) throws -> JobRecord {
        guard let jobID = JobID(id), let record = try store.job(jobID), principal.canAccess(team: record.team) else {
            throw APIError.jobNotFound(id)
        }
        return record
    }

    func detail(_ request: Request, id: String) throws -> Response {
        let record = try visibleJob(id, to: try authenticator.require(request))
        let costs = Dictionary(uniqueKeysWithValues: try store.attemptCosts(of: record.jobID).map { ($0.attempt, $0) })
        let detail = JobDetail(
            status: JobStatusMessage(record), spec: try store.spec(of: record.jobID),
            attempts: try store.attempts(of: record.jobID).map { AttemptView($0, cost: costs[$0.attempt]) })
        return JSONResponse.make(detail)
    }

    func events(_ request: Request, id: String) throws -> Response {
        let record = try visibleJob(id, to: try authenticator.require(request))
        let decisive = Set(try store.attempts(of: record.jobID).map { "\($0.attempt)/\($0.decisive.state)/\($0.decisive.source)" })
        let entries = try store.events(of: record.jobID).map { stored in
            EventHistory.Entry(
                event: stored.event, topic: stored.position.topic, partition: stored.position.partition, offset: stored.position.offset,
                decisive: decisive.contains("\(stored.event.attempt)/\(stored.event.state)/\(stored.event.source)"))
        }
        return JSONResponse.make(EventHistory(jobId: record.jobID, events: entries))
    }

    func cancel(_ request: Request, id: String) async throws -> Response {
        let principal = try authenticator.require(request)
        let record = try visibleJob(id, to: principal)
        let body = try await request.body.collect(upTo: configuration.maxSmallBodyBytes)
        let reason = try CancelBody.reason(from: Data(buffer: body)) ?? "cancelled through the API by key \(principal.name)"
        do {
            try await send(.cancel(CancelCommand(jobID: record.jobID, reason: reason)))
        } catch {
            logger.error("cancel \(record.jobID) could not be published: \(error)")
            throw APIError(.serviceUnavailable, "unavailable", "the request could not be handed to the broker; retry")
        }
        logger.info("cancel of \(record.jobID) requested through the API by key \(principal.name)")
        return JSONResponse.make(status: .accepted, CancelAccepted(jobId: record.jobID))
    }
}

extension Request {
    /// The query's (name, value) pairs in order, values percent-decoded.
    var queryPairs: [(name: String, value: String)] { uri.queryParameters.map { (String($0.key), String($0.value)) } }
}

/// The optional body of a cancel: `{"reason": "..."}`.
enum CancelBody {
    static let maxReasonLength = 1024

    static func reason(from body: Data) throws(APIError) -> String? {
        guard body.contains(where: { !Character(UnicodeScalar($0)).isWhitespace }) else { return nil }
        guard let object = try? JSONSerialization.jsonObject(with: body), let fields = object as? [String: Any] else {
            throw APIError.invalid(
                "the body must be a JSON object like {\"reason\": \"...\"}", fields: [SpecViolation(field: "", message: "must be a JSON object")])
        }
        if let unknown = fields.keys.sorted().first(where: { $0 != "reason" }) {
            throw APIError.invalid("invalid cancel request", fields: [SpecViolation(field: unknown, message: "is not a field of a cancel request")])
        }
        guard let value = fields["reason"], !(value is NSNull) else { return nil }
        guard let reason = value as? String, !(value is NSNumber) else {
            throw APIError.invalid("invalid cancel request", fields: [SpecViolation(field: "reason", message: "must be a string")])
        }
        guard reason.count <= maxReasonLength else {
            throw APIError.invalid(
                "invalid cancel request", fields: [SpecViolation(field: "reason", message: "must be at most \(maxReasonLength) characters")])
        }
        return reason
    }
}
