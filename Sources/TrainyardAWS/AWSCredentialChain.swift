import AsyncHTTPClient
import Foundation
import NIOCore

/// Finds credentials the way the AWS CLI and SDKs do, first match wins:
///
/// 1. environment: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, optional `AWS_SESSION_TOKEN`;
/// 2. the shared credentials file, then the config file, for profile `AWS_PROFILE` (default `default`);
/// 3. the container credentials endpoint (ECS, EKS Pod Identity):
///    `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` (on `http://169.254.170.2`) or
///    `AWS_CONTAINER_CREDENTIALS_FULL_URI`, with the token of
///    `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` or `AWS_CONTAINER_AUTHORIZATION_TOKEN`.
///
/// Not supported: SSO, web identity, `credential_process`, role assumption and the EC2
/// instance metadata service. Temporary credentials are cached and fetched again five minutes
/// before they expire.
public actor AWSCredentialChain {
    /// Where the credentials in use came from (for logs; never the secret).
    public enum Source: Sendable, Equatable {
        case environment
        case sharedFile(profile: String)
        case containerEndpoint(URL)
    }

    private let environment: [String: String]
    private let httpClient: HTTPClient
    private var cached: (credentials: AWSCredentials, source: Source)?

    public init(environment: [String: String] = ProcessInfo.processInfo.environment, httpClient: HTTPClient = .shared) {
        self.environment = environment
        self.httpClient = httpClient
    }

    /// Credentials to sign the next request with.
    public func credentials() async throws -> AWSCredentials { try await resolve().credentials }

    /// Credentials and where they came from.
    public func resolve() async throws -> (credentials: AWSCredentials, source: Source) {
        if let cached, cached.credentials.expiration.map({ $0.timeIntervalSinceNow > 300 }) ?? true { return cached }
        let found = try await find()
        cached = found
        return found
    }

    private func find() async throws -> (credentials: AWSCredentials, source: Source) {
        if let key = nonEmpty("AWS_ACCESS_KEY_ID"), let secret = nonEmpty("AWS_SECRET_ACCESS_KEY") {
            return (AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: nonEmpty("AWS_SESSION_TOKEN")), .environment)
        }
        let profile = nonEmpty("AWS_PROFILE") ?? "default"
        let files = AWSSharedConfigFiles(environment: environment)
        for section in [files.credentialsSection(profile), files.configSection(profile)] {
            if let section, let key = section["aws_access_key_id"], let secret = section["aws_secret_access_key"] {
                return (
                    AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: section["aws_session_token"]),
                    .sharedFile(profile: profile)
                )
            }
        }
        if let url = try containerEndpoint() {
            return (try await fetchContainerCredentials(url), .containerEndpoint(url))
        }
        throw AWSConfigurationError(
            "no AWS credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile \"\(profile)\" in the shared credentials or config file, or a container credentials endpoint"
        )
    }

    private func containerEndpoint() throws -> URL? {
        if let relative = nonEmpty("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
            return URL(string: "http://169.254.170.2\(relative)")
        }
        guard let full = nonEmpty("AWS_CONTAINER_CREDENTIALS_FULL_URI") else { return nil }
        guard let url = URL(string: full), let host = url.host else { throw AWSConfigurationError("AWS_CONTAINER_CREDENTIALS_FULL_URI is not a URL") }
        // As the SDKs do: plain HTTP only to the loopback or the ECS / EKS link-local addresses.
        let allowedHTTPHosts: Set<String> = ["127.0.0.1", "localhost", "::1", "[::1]", "169.254.170.2", "169.254.170.23", "fd00:ec2::23"]
        guard url.scheme == "https" || (url.scheme == "http" && allowedHTTPHosts.contains(host)) else {
            throw AWSConfigurationError("AWS_CONTAINER_CREDENTIALS_FULL_URI must use https or a loopback / container host, not \(host)")
        }
        return url
    }

    private func fetchContainerCredentials(_ url: URL) async throws -> AWSCredentials {
        var request = HTTPClientRequest(url: url.absoluteString)
        if let file = nonEmpty("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") {
            let token = try String(contentsOfFile: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            request.headers.add(name: "Authorization", value: token)
        } else if let token = nonEmpty("AWS_CONTAINER_AUTHORIZATION_TOKEN") {
            request.headers.add(name: "Authorization", value: token)
        }
        let response = try await httpClient.execute(request, timeout: .seconds(5))
        let body = try await response.body.collect(upTo: 1 << 20)
        guard response.status == .ok else {
            throw AWSConfigurationError("container credentials endpoint \(url) answered HTTP \(response.status.code)")
        }
        struct Payload: Decodable {
            var AccessKeyId: String
            var SecretAccessKey: String
            var Token: String?
            var Expiration: String?
        }
        let payload: Payload
        do { payload = try JSONDecoder().decode(Payload.self, from: Data(Array(buffer: body))) } catch {
            throw AWSConfigurationError("container credentials endpoint \(url) returned no credentials")
        }
        return AWSCredentials(
            accessKeyID: payload.AccessKeyId, secretAccessKey: payload.SecretAccessKey, sessionToken: payload.Token,
            expiration: payload.Expiration.flatMap { try? Date($0, strategy: .iso8601) })
    }

    private func nonEmpty(_ name: String) -> String? {
        environment[name].flatMap { $0.isEmpty ? nil : $0 }
    }
}

/// The region to call: an explicit setting, else `AWS_REGION`, `AWS_DEFAULT_REGION`, then the
/// `region` of profile `AWS_PROFILE` (default `default`) in the config file.
public func resolveAWSRegion(explicit: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
    if let explicit, !explicit.isEmpty { return explicit }
    for name in ["AWS_REGION", "AWS_DEFAULT_REGION"] { if let region = environment[name], !region.isEmpty { return region } }
    let profile = environment["AWS_PROFILE"].flatMap { $0.isEmpty ? nil : $0 } ?? "default"
    if let region = AWSSharedConfigFiles(environment: environment).configSection(profile)?["region"] { return region }
    throw AWSConfigurationError(
        "no AWS region: set `region` in the backend settings, AWS_REGION, or `region` in the config file's profile \"\(profile)\"")
}
