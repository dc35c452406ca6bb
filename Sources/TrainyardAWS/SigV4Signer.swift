import Crypto
import Foundation

/// An HTTP request as AWS Signature Version 4 sees it, before signing.
public struct AWSSigningRequest: Sendable, Equatable {
    public var method: String
    /// The URL path as sent on the wire (already percent-encoded once), e.g. `/` or `/a%20b`.
    public var path: String
    /// Decoded query parameters, in any order; the signer encodes and sorts them.
    public var query: [(name: String, value: String)]
    /// Header names and values; `Host` is added from `host` when absent.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// `host` or `host:port` (default ports omitted), as in the `Host` header.
    public var host: String

    public init(
        method: String, host: String, path: String = "/", query: [(name: String, value: String)] = [],
        headers: [(name: String, value: String)] = [], body: [UInt8] = []
    ) {
        self.method = method
        self.host = host
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
    }

    public static func == (lhs: AWSSigningRequest, rhs: AWSSigningRequest) -> Bool {
        lhs.method == rhs.method && lhs.path == rhs.path && lhs.host == rhs.host && lhs.body == rhs.body
            && lhs.query.map { [$0.name, $0.value] } == rhs.query.map { [$0.name, $0.value] }
            && lhs.headers.map { [$0.name, $0.value] } == rhs.headers.map { [$0.name, $0.value] }
    }
}

/// AWS Signature Version 4 (header form), as specified in the AWS General Reference
/// ("Create a signed AWS API request") and as botocore implements it for non-S3 services:
/// the canonical URI is the normalized wire path percent-encoded once more, query parameters are
/// RFC 3986-encoded and sorted, header values are trimmed with inner whitespace runs collapsed,
/// and `User-Agent`, `Expect`, `Transfer-Encoding` and `X-Amzn-Trace-Id` are not signed.
public struct SigV4Signer: Sendable {
    public var region: String
    /// The signing name of the service (`sagemaker`, `sqs`, `events`).
    public var service: String

    public init(region: String, service: String) {
        self.region = region
        self.service = service
    }

    /// The headers to send: the request's own plus `Host`, `X-Amz-Date`, `X-Amz-Security-Token`
    /// (with a session token) and `Authorization`.
    public func signedHeaders(for request: AWSSigningRequest, credentials: AWSCredentials, date: Date) -> [(name: String, value: String)] {
        let timestamp = Self.timestamp(date)
        var headers = request.headers.filter { !["authorization", "x-amz-date", "x-amz-security-token"].contains($0.name.lowercased()) }
        if !headers.contains(where: { $0.name.lowercased() == "host" }) { headers.append(("Host", request.host)) }
        headers.append(("X-Amz-Date", timestamp))
        if let token = credentials.sessionToken { headers.append(("X-Amz-Security-Token", token)) }
        var toSign = request
        toSign.headers = headers
        let parts = canonicalParts(toSign)
        let scope = "\(timestamp.prefix(8))/\(region)/\(service)/aws4_request"
        let stringToSign = "AWS4-HMAC-SHA256\n\(timestamp)\n\(scope)\n\(Self.hex(SHA256.hash(data: Array(parts.request.utf8))))"
        let signature = Self.hex(
            HMAC<SHA256>.authenticationCode(
                for: Array(stringToSign.utf8), using: signingKey(credentials.secretAccessKey, day: String(timestamp.prefix(8)))))
        headers.append(
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(parts.signedHeaders), Signature=\(signature)"
            ))
        return headers
    }

    /// The canonical request (for diagnostics and tests) of a request that already carries its date headers.
    public func canonicalRequest(_ request: AWSSigningRequest) -> String { canonicalParts(request).request }

    private func canonicalParts(_ request: AWSSigningRequest) -> (request: String, signedHeaders: String) {
        var grouped: [String: [String]] = [:]
        for (name, value) in request.headers {
            let key = name.lowercased().trimmingCharacters(in: .whitespaces)
            if Self.unsignedHeaders.contains(key) { continue }
            grouped[key, default: []].append(Self.trimAll(value))
        }
        let names = grouped.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        let canonicalHeaders = names.map { "\($0):\(grouped[$0]!.joined(separator: ","))\n" }.joined()
        let signedHeaders = names.joined(separator: ";")
        let query = request.query
            .map { (Self.percentEncode($0.name, keeping: ""), Self.percentEncode($0.value, keeping: "")) }
            .sorted { lhs, rhs in
                lhs.0 == rhs.0
                    ? Array(lhs.1.utf8).lexicographicallyPrecedes(Array(rhs.1.utf8)) : Array(lhs.0.utf8).lexicographicallyPrecedes(Array(rhs.0.utf8))
            }
            .map { "\($0.0)=\($0.1)" }.joined(separator: "&")
        let payloadHash = Self.hex(SHA256.hash(data: request.body))
        let uri = Self.percentEncode(Self.removeDotSegments(request.path), keeping: "/")
        return ([request.method.uppercased(), uri, query, canonicalHeaders, signedHeaders, payloadHash].joined(separator: "\n"), signedHeaders)
    }

    private func signingKey(_ secret: String, day: String) -> SymmetricKey {
        var key = SymmetricKey(data: Array("AWS4\(secret)".utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key)))
        }
        return key
    }

    static let unsignedHeaders: Set<String> = ["expect", "transfer-encoding", "user-agent", "x-amzn-trace-id"]

    /// `yyyyMMdd'T'HHmmss'Z'` in UTC.
    static func timestamp(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d%02d%02dT%02d%02d%02dZ", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
    }

    /// Leading and trailing whitespace removed, inner runs collapsed to one space.
    static func trimAll(_ value: String) -> String {
        value.split(whereSeparator: { " \t\n\r\u{0B}\u{0C}".contains($0) }).joined(separator: " ")
    }

    /// RFC 3986 percent-encoding of UTF-8 bytes: unreserved characters and `keeping` stay.
    public static func percentEncode(_ text: String, keeping extra: String) -> String {
        let keep = Set(Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~".utf8) + Array(extra.utf8))
        var out = ""
        for byte in text.utf8 {
            if keep.contains(byte) { out.unicodeScalars.append(Unicode.Scalar(byte)) } else { out += String(format: "%%%02X", byte) }
        }
        return out
    }

    /// RFC 3986 section 5.2.4, with empty segments dropped (AWS collapses repeated slashes).
    static func removeDotSegments(_ path: String) -> String {
        guard !path.isEmpty else { return "/" }
        var output: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: true) where segment != "." {
            if segment == ".." { _ = output.popLast() } else { output.append(segment) }
        }
        let first = path.hasPrefix("/") ? "/" : ""
        let last = path.hasSuffix("/") && !output.isEmpty ? "/" : ""
        return first + output.joined(separator: "/") + last
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        digest.map { String(format: "%02x", $0) }.joined()
    }
}
