import AsyncHTTPClient
import Foundation
import Logging
import NIOCore

/// Where and how to reach one AWS service over its JSON protocol.
public struct AWSServiceConfiguration: Sendable {
    /// `https://api.sagemaker.us-east-1.amazonaws.com`, or an override (a VPC endpoint, an emulator).
    public var endpoint: URL
    public var region: String
    /// The SigV4 signing name (`sagemaker`, `sqs`, `events`).
    public var signingName: String
    /// The `X-Amz-Target` prefix (`SageMaker`, `AmazonSQS`, `AWSEvents`).
    public var targetPrefix: String
    /// `1.1` (SageMaker, EventBridge) or `1.0` (SQS).
    public var jsonVersion: String

    public init(endpoint: URL, region: String, signingName: String, targetPrefix: String, jsonVersion: String) {
        self.endpoint = endpoint
        self.region = region
        self.signingName = signingName
        self.targetPrefix = targetPrefix
        self.jsonVersion = jsonVersion
    }

    /// The public regional endpoint `https://<prefix>.<region>.amazonaws.com`.
    public static func defaultEndpoint(hostPrefix: String, region: String) -> URL {
        URL(string: "https://\(hostPrefix).\(region).amazonaws.com")!
    }
}

/// Calls the actions of an AWS service speaking the JSON protocol (`POST /` with
/// `X-Amz-Target: <prefix>.<Action>`), signed with SigV4, retrying throttling, 5xx and
/// connection failures by `AWSRetryPolicy`. Knows no service's actions.
public struct AWSJSONClient: Sendable {
    public let configuration: AWSServiceConfiguration
    private let credentials: AWSCredentialChain
    private let httpClient: HTTPClient
    private let retry: AWSRetryPolicy
    private let timeout: TimeAmount
    private let logger: Logger

    public init(
        configuration: AWSServiceConfiguration, credentials: AWSCredentialChain, httpClient: HTTPClient = .shared,
        retry: AWSRetryPolicy = AWSRetryPolicy(), timeout: Duration = .seconds(70), logger: Logger
    ) {
        self.configuration = configuration
        self.credentials = credentials
        self.httpClient = httpClient
        self.retry = retry
        self.timeout = .milliseconds(Int64(timeout.components.seconds * 1000))
        self.logger = logger
    }

    /// Sends `action` with `body`; returns the response document. Throws the last error once
    /// retries are exhausted, or at once for errors retrying cannot fix.
    public func call(_ action: String, _ body: JSONValue) async throws(AWSError) -> JSONValue {
        var attempt = 1
        while true {
            do {
                return try await send(action, body)
            } catch let error where error.isRetryable && attempt < retry.maxAttempts {
                let delay = retry.delay(beforeRetry: attempt)
                logger.debug(
                    "AWS call failed, retrying",
                    metadata: [
                        "action": "\(configuration.targetPrefix).\(action)", "error": "\(error)", "attempt": "\(attempt)", "delay": "\(delay)",
                    ])
                attempt += 1
                do { try await Task.sleep(for: delay) } catch {
                    throw AWSError(.connection, code: "Cancelled", message: "cancelled while backing off")
                }
            }
        }
    }

    private func send(_ action: String, _ body: JSONValue) async throws(AWSError) -> JSONValue {
        let bytes = body.encoded()
        let endpoint = configuration.endpoint
        let scheme = endpoint.scheme ?? "https"
        let port = endpoint.port
        let defaultPort = scheme == "https" ? 443 : 80
        let host = (endpoint.host ?? "") + (port.map { $0 == defaultPort ? "" : ":\($0)" } ?? "")
        let signer = SigV4Signer(region: configuration.region, service: configuration.signingName)
        let unsigned = AWSSigningRequest(
            method: "POST", host: host, path: "/",
            headers: [
                ("Content-Type", "application/x-amz-json-\(configuration.jsonVersion)"),
                ("X-Amz-Target", "\(configuration.targetPrefix).\(action)"),
            ], body: bytes)
        let resolved: AWSCredentials
        do { resolved = try await credentials.credentials() } catch {
            throw AWSError(.client, code: "MissingCredentials", message: "\(error)")
        }
        var request = HTTPClientRequest(url: "\(scheme)://\(host)/")
        request.method = .POST
        for (name, value) in signer.signedHeaders(for: unsigned, credentials: resolved, date: Date()) {
            request.headers.add(name: name, value: value)
        }
        request.headers.add(name: "User-Agent", value: "trainyard")
        request.body = .bytes(ByteBuffer(bytes: bytes))
        let status: Int
        let headerType: String?
        let responseBody: ByteBuffer
        do {
            let response = try await httpClient.execute(request, timeout: timeout)
            status = Int(response.status.code)
            headerType = response.headers.first(name: "x-amzn-ErrorType")
            responseBody = try await response.body.collect(upTo: 16 << 20)
        } catch {
            throw AWSError(.connection, code: "ConnectionError", message: "\(endpoint.absoluteString): \(error)")
        }
        let responseBytes = Array(buffer: responseBody)
        guard (200..<300).contains(status) else { throw AWSError.fromResponse(status: status, headerType: headerType, body: responseBytes) }
        if responseBytes.isEmpty { return .object([:]) }
        guard let document = JSONValue.decode(responseBytes) else {
            throw AWSError(
                .serverError, code: "MalformedResponse", message: "not JSON: \(String(decoding: responseBytes.prefix(200), as: UTF8.self))",
                statusCode: status)
        }
        return document
    }
}
