import Foundation

/// Encodes job specs as the store keeps them (`WireFormat.encoder()`'s bytes), in a single pass
/// with `JSONEncoder` as the fallback for what that pass cannot write identically.
public enum JobSpecCodec {
    public static func encode(_ spec: JobSpec) throws -> Data {
        if let data = WireJSONTree.write(node(spec)) { return data }
        return try WireFormat.encoder().encode(spec)
    }

    /// The spec as its synthesized `Encodable` conformance writes it (optional members left out when nil).
    static func node(_ spec: JobSpec) -> WireJSONNode {
        func strings(_ values: [String]) -> WireJSONNode { .array(values.map(WireJSONNode.string)) }
        func map(_ values: [String: String]) -> WireJSONNode { .object(values.map { ($0.key, .string($0.value)) }) }
        func int(_ value: Int) -> WireJSONNode { .number(String(value)) }
        func double(_ value: Double) -> WireJSONNode { .number(WireJSONWriter.numberText(value)) }
        func object(_ members: [(String, WireJSONNode?)]) -> WireJSONNode {
            .object(members.compactMap { key, value in value.map { (key, $0) } })
        }
        let resources = spec.resources
        let retry = spec.retry
        return object([
            ("apiVersion", .string(spec.apiVersion)), ("name", .string(spec.name)), ("team", .string(spec.team)),
            ("kind", .string(spec.kind.rawValue)), ("image", spec.image.map(WireJSONNode.string)), ("command", strings(spec.command)),
            ("args", strings(spec.args)), ("env", map(spec.env)),
            (
                "secrets",
                .array(
                    spec.secrets.map { secret in
                        object([
                            ("env", .string(secret.env)), ("secretName", .string(secret.secretName)), ("key", secret.key.map(WireJSONNode.string)),
                        ])
                    })
            ),
            (
                "resources",
                object([
                    ("cpu", double(resources.cpu)), ("memoryMiB", int(resources.memoryMiB)), ("gpu", int(resources.gpu)),
                    ("instanceType", resources.instanceType.map(WireJSONNode.string)),
                ])
            ),
            ("maxRuntimeSeconds", int(spec.maxRuntimeSeconds)),
            (
                "retry",
                object([
                    ("maxAttempts", int(retry.maxAttempts)), ("backoffSeconds", double(retry.backoffSeconds)),
                    ("retryOnUserError", .bool(retry.retryOnUserError)),
                ])
            ),
            ("hyperparameters", map(spec.hyperparameters)),
            ("inputs", .array(spec.inputs.map { object([("name", .string($0.name)), ("uri", .string($0.uri))]) })),
            ("output", spec.output.map { object([("uri", .string($0.uri))]) }), ("backend", .string(spec.backend.rawValue)),
            ("warmPoolSeconds", spec.warmPoolSeconds.map(int)), ("labels", map(spec.labels)),
            ("idempotencyKey", spec.idempotencyKey.map(WireJSONNode.string)),
        ])
    }
}

extension JobRequestCodec {
    /// The submit command when `bytes` is a schema-1 submit that the single-pass reader handles
    /// and whose every member decodes; nil otherwise (the caller then decodes with `JSONDecoder`,
    /// which also explains what is wrong). Not validated: that is the caller's next step.
    package static func readSubmit(_ bytes: Data) -> SubmitCommand? {
        guard let document = WireJSONTree.parse(bytes), case .object = document, document["schema"]?.int == JobRequest.schemaVersion,
            document["type"]?.string == "submit", let jobID = document["jobId"]?.string.flatMap(JobID.init),
            let submittedAt = document["submittedAt"]?.string.flatMap(WireFormat.parseTimestamp),
            let spec = document["spec"].flatMap(JobSpecReader.spec)
        else { return nil }
        return SubmitCommand(jobID: jobID, spec: spec, submittedAt: submittedAt)
    }
}

/// `JobSpec.init(from:)` over a `WireJSONNode`: a member that is absent or null takes its
/// default; a required one missing, or any value of the wrong type, declines (nil).
private enum JobSpecReader {
    static func spec(_ node: WireJSONNode) -> JobSpec? {
        guard case .object = node, let apiVersion = node["apiVersion"]?.string, let name = node["name"]?.string,
            let team = node["team"]?.string, let command = node["command"].flatMap(strings)
        else { return nil }
        var spec = JobSpec(name: name, team: team, command: command)
        spec.apiVersion = apiVersion
        guard optional(node["kind"], { $0.string.flatMap(JobKind.init(rawValue:)) }, into: &spec.kind),
            optional(node["image"], { $0.string }, into: &spec.image),
            optional(node["args"], strings, into: &spec.args),
            optional(node["env"], map, into: &spec.env),
            optional(node["secrets"], { list($0, secret) }, into: &spec.secrets),
            optional(node["resources"], resources, into: &spec.resources),
            optional(node["maxRuntimeSeconds"], { $0.int }, into: &spec.maxRuntimeSeconds),
            optional(node["retry"], retry, into: &spec.retry),
            optional(node["hyperparameters"], map, into: &spec.hyperparameters),
            optional(node["inputs"], { list($0, input) }, into: &spec.inputs),
            optional(node["output"], output, into: &spec.output),
            optional(node["backend"], { $0.string.flatMap(BackendChoice.init(rawValue:)) }, into: &spec.backend),
            optional(node["warmPoolSeconds"], { $0.int }, into: &spec.warmPoolSeconds),
            optional(node["labels"], map, into: &spec.labels),
            optional(node["idempotencyKey"], { $0.string }, into: &spec.idempotencyKey)
        else { return nil }
        return spec
    }

    /// Sets `target` from a present, non-null member; true when the member is absent, null or converted.
    private static func optional<T>(_ node: WireJSONNode?, _ convert: (WireJSONNode) -> T?, into target: inout T) -> Bool {
        guard let node, !node.isNull else { return true }
        guard let value = convert(node) else { return false }
        target = value
        return true
    }

    private static func optional<T>(_ node: WireJSONNode?, _ convert: (WireJSONNode) -> T?, into target: inout T?) -> Bool {
        guard let node, !node.isNull else { return true }
        guard let value = convert(node) else { return false }
        target = value
        return true
    }

    private static func list<T>(_ node: WireJSONNode, _ element: (WireJSONNode) -> T?) -> [T]? {
        guard case .array(let elements) = node else { return nil }
        var values: [T] = []
        values.reserveCapacity(elements.count)
        for node in elements {
            guard let value = element(node) else { return nil }
            values.append(value)
        }
        return values
    }

    private static func strings(_ node: WireJSONNode) -> [String]? { list(node) { $0.string } }

    private static func map(_ node: WireJSONNode) -> [String: String]? {
        guard case .object(let members) = node else { return nil }
        var values: [String: String] = [:]
        for (key, value) in members {
            guard let text = value.string else { return nil }
            values[key] = text
        }
        return values
    }

    private static func secret(_ node: WireJSONNode) -> SecretReference? {
        guard case .object = node, let env = node["env"]?.string, let secretName = node["secretName"]?.string else { return nil }
        var secret = SecretReference(env: env, secretName: secretName)
        return optional(node["key"], { $0.string }, into: &secret.key) ? secret : nil
    }

    private static func resources(_ node: WireJSONNode) -> Resources? {
        guard case .object = node else { return nil }
        var resources = Resources()
        guard optional(node["cpu"], { $0.double }, into: &resources.cpu),
            optional(node["memoryMiB"], { $0.int }, into: &resources.memoryMiB),
            optional(node["gpu"], { $0.int }, into: &resources.gpu),
            optional(node["instanceType"], { $0.string }, into: &resources.instanceType)
        else { return nil }
        return resources
    }

    private static func retry(_ node: WireJSONNode) -> RetryPolicy? {
        guard case .object = node else { return nil }
        var retry = RetryPolicy()
        guard optional(node["maxAttempts"], { $0.int }, into: &retry.maxAttempts),
            optional(node["backoffSeconds"], { $0.double }, into: &retry.backoffSeconds),
            optional(node["retryOnUserError"], { $0.bool }, into: &retry.retryOnUserError)
        else { return nil }
        return retry
    }

    private static func input(_ node: WireJSONNode) -> InputChannel? {
        guard case .object = node, let name = node["name"]?.string, let uri = node["uri"]?.string else { return nil }
        return InputChannel(name: name, uri: uri)
    }

    private static func output(_ node: WireJSONNode) -> OutputLocation? {
        guard case .object = node, let uri = node["uri"]?.string else { return nil }
        return OutputLocation(uri: uri)
    }
}
