/// A failed AWS call, classified by what the caller can do about it.
public struct AWSError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The service asked to slow down (ThrottlingException and kin).
        case throttled
        /// HTTP 5xx or a service-side transient code.
        case serverError
        /// No HTTP answer (connection refused or reset, timeout).
        case connection
        /// The request was refused (validation, not found, quota, permissions); retrying the same request does not help.
        case client
    }

    public var kind: Kind
    /// The AWS error code (`ValidationException`, `ResourceInUse`…), or a description of the transport failure.
    public var code: String
    public var message: String
    public var statusCode: Int?

    public init(_ kind: Kind, code: String, message: String, statusCode: Int? = nil) {
        self.kind = kind
        self.code = code
        self.message = message
        self.statusCode = statusCode
    }

    /// Whether the same request may succeed if sent again later.
    public var isRetryable: Bool { kind != .client }

    public var description: String { "\(code)\(statusCode.map { " (HTTP \($0))" } ?? ""): \(message)" }

    /// Error codes botocore's standard retry mode treats as throttling.
    static let throttlingCodes: Set<String> = [
        "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException", "TooManyRequestsException",
        "ProvisionedThroughputExceededException", "TransactionInProgressException", "RequestLimitExceeded",
        "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled", "SlowDown", "PriorRequestNotComplete",
        "EC2ThrottledException",
    ]

    /// Error codes botocore's standard retry mode treats as transient.
    static let transientCodes: Set<String> = ["RequestTimeout", "RequestTimeoutException", "InternalError", "InternalFailure", "ServiceUnavailable"]

    /// Classifies an error response of the JSON protocols: the code comes from `__type` (after
    /// any `#`) or the `x-amzn-ErrorType` header (before any `:`).
    static func fromResponse(status: Int, headerType: String?, body: [UInt8]) -> AWSError {
        let json = JSONValue.decode(body)
        let text = String(decoding: body.prefix(4096), as: UTF8.self)
        // Some gateways (and the emulator's authentication layer) answer with an XML error document.
        let rawType = json?["__type"]?.string ?? json?["code"]?.string ?? headerType ?? xmlElement("Code", in: text) ?? "HTTP\(status)"
        let code = String(rawType.split(separator: "#").last.map(String.init)?.split(separator: ":").first ?? Substring(rawType))
        let message = json?["message"]?.string ?? json?["Message"]?.string ?? xmlElement("Message", in: text) ?? String(text.prefix(500))
        let kind: Kind =
            if throttlingCodes.contains(code) || status == 429 { .throttled } else if status >= 500 || transientCodes.contains(code) {
                .serverError
            } else { .client }
        return AWSError(kind, code: code, message: message, statusCode: status)
    }

    /// The text of the first `<name>…</name>` element, if any.
    static func xmlElement(_ name: String, in text: String) -> String? {
        guard let start = text.range(of: "<\(name)>"), let end = text.range(of: "</\(name)>", range: start.upperBound..<text.endIndex) else {
            return nil
        }
        return String(text[start.upperBound..<end.lowerBound])
    }
}
