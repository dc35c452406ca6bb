import Foundation
import Glibc
import Testing
import TrainyardAWS
import TrainyardTesting

/// The credential chain's order (environment, shared files by profile, container endpoint)
/// and the region's (explicit, AWS_REGION, AWS_DEFAULT_REGION, the profile's config).
@Suite struct CredentialChainTests {
    /// A home with both shared files: `default` and `dev` profiles.
    static func home() throws -> (directory: URL, environment: [String: String]) {
        let directory = try TestEnvironment.temporaryDirectory("aws-home")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent(".aws"), withIntermediateDirectories: true)
        try """
        # comment
        [default]
        aws_access_key_id = AKIDFILEDEFAULT
        aws_secret_access_key = file-default-secret

        [dev]
        aws_access_key_id=AKIDFILEDEV
        aws_secret_access_key=file-dev-secret
        aws_session_token = file-dev-token
        """.write(to: directory.appendingPathComponent(".aws/credentials"), atomically: true, encoding: .utf8)
        try """
        [default]
        region = eu-central-1
        [profile dev]
        region = ap-northeast-1
        [profile configonly]
        aws_access_key_id = AKIDCONFIGONLY
        aws_secret_access_key = config-only-secret
        """.write(to: directory.appendingPathComponent(".aws/config"), atomically: true, encoding: .utf8)
        return (directory, ["HOME": directory.path])
    }

    @Test func environmentComesFirst() async throws {
        var (_, environment) = try Self.home()
        environment["AWS_ACCESS_KEY_ID"] = "AKIDENV"
        environment["AWS_SECRET_ACCESS_KEY"] = "env-secret"
        environment["AWS_SESSION_TOKEN"] = "env-token"
        environment["AWS_PROFILE"] = "dev"
        environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = "http://127.0.0.1:1/creds"
        let (credentials, source) = try await AWSCredentialChain(environment: environment).resolve()
        #expect(source == .environment)
        #expect(credentials == AWSCredentials(accessKeyID: "AKIDENV", secretAccessKey: "env-secret", sessionToken: "env-token"))
        #expect(!"\(credentials)".contains("env-secret") && !"\(credentials)".contains("env-token"))
    }

    @Test func incompleteEnvironmentFallsThroughToTheSharedFile() async throws {
        var (_, environment) = try Self.home()
        environment["AWS_ACCESS_KEY_ID"] = "AKIDENV"  // no secret: not usable
        let (credentials, source) = try await AWSCredentialChain(environment: environment).resolve()
        #expect(source == .sharedFile(profile: "default"))
        #expect(credentials.accessKeyID == "AKIDFILEDEFAULT" && credentials.sessionToken == nil)
    }

    @Test func profileSelectsTheSectionAndTheConfigFileIsTheFallback() async throws {
        var (_, environment) = try Self.home()
        environment["AWS_PROFILE"] = "dev"
        environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = "http://127.0.0.1:1/creds"
        let dev = try await AWSCredentialChain(environment: environment).resolve()
        #expect(dev.source == .sharedFile(profile: "dev"))
        #expect(dev.credentials == AWSCredentials(accessKeyID: "AKIDFILEDEV", secretAccessKey: "file-dev-secret", sessionToken: "file-dev-token"))
        environment["AWS_PROFILE"] = "configonly"
        #expect(try await AWSCredentialChain(environment: environment).credentials().accessKeyID == "AKIDCONFIGONLY")
    }

    @Test func containerEndpointWhenNothingElseIsSet() async throws {
        let (directory, _) = try Self.home()
        let tokenFile = directory.appendingPathComponent("token")
        try "secret-token\n".write(to: tokenFile, atomically: true, encoding: .utf8)
        let port = try Fleet.freePort()
        let server = try Self.startContainerEndpoint(port: port, expectedToken: "secret-token")
        defer { kill(server.processIdentifier, SIGKILL) }
        let environment = [
            "HOME": "/nonexistent", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:\(port)/v2/credentials",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": tokenFile.path,
        ]
        var resolved: (credentials: AWSCredentials, source: AWSCredentialChain.Source)?
        let answered = try await eventually(timeout: .seconds(120)) {
            resolved = try? await AWSCredentialChain(environment: environment).resolve()
            return resolved != nil
        }
        try #require(answered, "the container endpoint never answered")
        #expect(resolved?.source == .containerEndpoint(URL(string: "http://127.0.0.1:\(port)/v2/credentials")!))
        #expect(resolved?.credentials.accessKeyID == "ASIACONTAINER")
        #expect(resolved?.credentials.sessionToken == "container-token")
        #expect(resolved?.credentials.expiration == Date(timeIntervalSince1970: 4_102_444_800))
        // The endpoint refuses a wrong token: the chain reports the failure instead of inventing credentials.
        var wrong = environment
        wrong["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = nil
        wrong["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "wrong"
        await #expect(throws: AWSConfigurationError.self) { try await AWSCredentialChain(environment: wrong).credentials() }
    }

    @Test func plainHTTPContainerEndpointsOnlyOnLocalHosts() async {
        let environment = ["HOME": "/nonexistent", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://example.com/creds"]
        await #expect(throws: AWSConfigurationError.self) { try await AWSCredentialChain(environment: environment).credentials() }
    }

    @Test func nothingConfiguredSaysWhatToSet() async {
        do {
            _ = try await AWSCredentialChain(environment: ["HOME": "/nonexistent"]).credentials()
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("AWS_ACCESS_KEY_ID"))
        }
    }

    @Test func regionOrder() throws {
        var (_, environment) = try Self.home()
        #expect(try resolveAWSRegion(environment: environment) == "eu-central-1")
        environment["AWS_PROFILE"] = "dev"
        #expect(try resolveAWSRegion(environment: environment) == "ap-northeast-1")
        environment["AWS_DEFAULT_REGION"] = "us-west-1"
        #expect(try resolveAWSRegion(environment: environment) == "us-west-1")
        environment["AWS_REGION"] = "us-west-2"
        #expect(try resolveAWSRegion(environment: environment) == "us-west-2")
        #expect(try resolveAWSRegion(explicit: "sa-east-1", environment: environment) == "sa-east-1")
        #expect(throws: AWSConfigurationError.self) { try resolveAWSRegion(environment: ["HOME": "/nonexistent"]) }
    }

    /// A container credentials endpoint that answers only requests carrying `expectedToken`.
    static func startContainerEndpoint(port: Int, expectedToken: String) throws -> Process {
        let script = """
            import http.server, json, sys
            class H(http.server.BaseHTTPRequestHandler):
                def do_GET(self):
                    ok = self.headers.get("Authorization") == sys.argv[2]
                    body = json.dumps({"AccessKeyId": "ASIACONTAINER", "SecretAccessKey": "container-secret", "Token": "container-token",
                                       "Expiration": "2100-01-01T00:00:00Z"} if ok else {"message": "denied"}).encode()
                    self.send_response(200 if ok else 401)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                def log_message(self, *args):
                    pass
            http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
            """
        let process = Process()
        process.executableURL = try TestPython.interpreter()
        process.arguments = ["-c", script, String(port), expectedToken]
        // Not the test's own pipes: a leftover child holding them would keep `swift test` waiting.
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }
}
