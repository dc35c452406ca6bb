import Foundation

/// A command on the requests topic, keyed by job id so one job's commands stay in order.
public enum JobRequest: Sendable, Equatable {
    case submit(SubmitCommand)
    case cancel(CancelCommand)

    /// The request envelope's schema version this build writes and reads.
    public static let schemaVersion = 1
    /// Largest request accepted from the topic, in bytes.
    public static let maxMessageBytes = 512 * 1024

    public var jobID: JobID {
        switch self {
        case .submit(let command): command.jobID
        case .cancel(let command): command.jobID
        }
    }
}

/// Run this spec as this job.
public struct SubmitCommand: Codable, Sendable, Equatable {
    public var jobID: JobID
    public var spec: JobSpec
    public var submittedAt: Date

    public init(jobID: JobID, spec: JobSpec, submittedAt: Date) {
        self.jobID = jobID
        self.spec = spec
        self.submittedAt = submittedAt
    }

    /// A submit command whose id is derived from the spec's idempotency key when it has one.
    public init(spec: JobSpec, submittedAt: Date = Date()) {
        let id = spec.idempotencyKey.map { JobID.derived(team: spec.team, idempotencyKey: $0) } ?? JobID.generate(at: submittedAt)
        self.init(jobID: id, spec: spec, submittedAt: submittedAt)
    }

    enum CodingKeys: String, CodingKey {
        case jobID = "jobId"
        case spec, submittedAt
    }
}

/// Stop this job, whatever state it is in.
public struct CancelCommand: Codable, Sendable, Equatable {
    public var jobID: JobID
    public var requestedAt: Date
    public var reason: String?

    public init(jobID: JobID, requestedAt: Date = Date(), reason: String? = nil) {
        self.jobID = jobID
        self.requestedAt = requestedAt
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey {
        case jobID = "jobId"
        case requestedAt, reason
    }
}

/// Why a message on the requests topic could not be used; recorded in the DLQ's headers.
public struct RequestRejection: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case oversized = "OVERSIZED"
        case malformed = "MALFORMED"
        case unknownSchema = "UNKNOWN_SCHEMA"
        case unknownType = "UNKNOWN_TYPE"
        case invalidSpec = "INVALID_SPEC"
    }

    public var code: Code
    public var reason: String
    /// The job the message was about, when that much could be read.
    public var jobID: JobID?
    /// The spec's team, when that much could be read.
    public var team: String?

    public init(code: Code, reason: String, jobID: JobID? = nil, team: String? = nil) {
        self.code = code
        self.reason = reason
        self.jobID = jobID
        self.team = team
    }

    public var description: String { "\(code.rawValue): \(reason)" }
}

/// Encodes and decodes `JobRequest` envelopes: `{"schema":1,"type":"submit"|"cancel",…}`.
public enum JobRequestCodec {
    private struct Envelope: Decodable {
        var schema: Int?
        var type: String?
        var jobId: String?
    }

    private struct Encoded<Body: Encodable>: Encodable {
        var schema = JobRequest.schemaVersion
        var type: String
        var body: Body

        func encode(to encoder: Encoder) throws {
            try body.encode(to: encoder)
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(schema, forKey: .schema)
            try container.encode(type, forKey: .type)
        }

        enum Keys: String, CodingKey { case schema, type }
    }

    public static func encode(_ request: JobRequest) throws -> Data {
        let encoder = WireFormat.encoder()
        switch request {
        case .submit(let command): return try encoder.encode(Encoded(type: "submit", body: command))
        case .cancel(let command): return try encoder.encode(Encoded(type: "cancel", body: command))
        }
    }

    /// Decodes and validates one message. Never traps; every failure is a `RequestRejection`.
    /// A submit in the form the single-pass reader handles skips `JSONDecoder` (same result).
    public static func decode(_ bytes: Data) -> Result<JobRequest, RequestRejection> {
        guard bytes.count <= JobRequest.maxMessageBytes else {
            return .failure(RequestRejection(code: .oversized, reason: "message is \(bytes.count) bytes; the limit is \(JobRequest.maxMessageBytes)"))
        }
        if let command = readSubmit(bytes) { return validated(command, jobID: command.jobID) }
        return decodeWithFoundation(bytes)
    }

    /// `decode` through `JSONDecoder` alone: the reference the single-pass reader must agree with.
    package static func decodeWithFoundation(_ bytes: Data) -> Result<JobRequest, RequestRejection> {
        let decoder = WireFormat.decoder()
        guard let envelope = try? decoder.decode(Envelope.self, from: bytes) else {
            return .failure(RequestRejection(code: .malformed, reason: "not a JSON object"))
        }
        let jobID = envelope.jobId.flatMap(JobID.init)
        guard let schema = envelope.schema else {
            return .failure(RequestRejection(code: .malformed, reason: "missing schema version", jobID: jobID))
        }
        guard schema == JobRequest.schemaVersion else {
            return .failure(
                RequestRejection(
                    code: .unknownSchema, reason: "schema version \(schema) is not supported (this build reads \(JobRequest.schemaVersion))",
                    jobID: jobID))
        }
        guard jobID != nil else {
            return .failure(RequestRejection(code: .malformed, reason: "missing or invalid jobId"))
        }
        do {
            switch envelope.type {
            case "submit":
                let command: SubmitCommand
                do {
                    command = try decoder.decode(SubmitCommand.self, from: bytes)
                } catch let error as DecodingError {
                    let violation = JobSpecParser.violation(for: error)
                    let inSpec = violation.field == "spec" || violation.field.hasPrefix("spec.")
                    return .failure(
                        RequestRejection(code: inSpec ? .invalidSpec : .malformed, reason: violation.description, jobID: jobID, team: teamHint(bytes))
                    )
                }
                return validated(command, jobID: jobID)
            case "cancel":
                return .success(.cancel(try decoder.decode(CancelCommand.self, from: bytes)))
            default:
                return .failure(
                    RequestRejection(
                        code: .unknownType, reason: "unknown request type \(envelope.type.map { "\"\($0)\"" } ?? "(none)")", jobID: jobID))
            }
        } catch {
            return .failure(RequestRejection(code: .malformed, reason: "\(error)", jobID: jobID))
        }
    }

    private static func validated(_ command: SubmitCommand, jobID: JobID?) -> Result<JobRequest, RequestRejection> {
        let violations = JobSpecValidator.violations(of: command.spec)
        guard violations.isEmpty else {
            return .failure(
                RequestRejection(code: .invalidSpec, reason: InvalidSpecError(violations).description, jobID: jobID, team: command.spec.team))
        }
        return .success(.submit(command))
    }

    private struct TeamHint: Decodable {
        struct Spec: Decodable { var team: String? }
        var spec: Spec?
    }

    private static func teamHint(_ bytes: Data) -> String? {
        (try? JSONDecoder().decode(TeamHint.self, from: bytes))?.spec?.team
    }
}
