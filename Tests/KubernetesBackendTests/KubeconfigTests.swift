import Foundation
import Testing

@testable import TrainyardKubernetes

@Suite("Kubernetes connection configuration")
struct KubeconfigTests {
    let kubeconfig = """
        apiVersion: v1
        kind: Config
        current-context: prod
        clusters:
        - name: prod-cluster
          cluster:
            server: https://10.0.0.1:6443
            certificate-authority-data: \(Data("CA-PEM".utf8).base64EncodedString())
        - name: lab
          cluster: {server: "http://127.0.0.1:8001", insecure-skip-tls-verify: true}
        users:
        - name: admin
          user:
            client-certificate-data: \(Data("CERT".utf8).base64EncodedString())
            client-key-data: \(Data("KEY".utf8).base64EncodedString())
        - name: robot
          user: {token: sekret}
        - name: sso
          user: {exec: {command: aws}}
        contexts:
        - name: prod
          context: {cluster: prod-cluster, user: admin, namespace: ml}
        - name: lab
          context: {cluster: lab, user: robot}
        - name: sso
          context: {cluster: lab, user: sso}
        """

    @Test("the current context: server, CA, client certificate, namespace")
    func currentContext() throws {
        let connection = try Kubeconfig.parse(kubeconfig, baseDirectory: "/tmp").connection()
        #expect(connection.server.absoluteString == "https://10.0.0.1:6443" && connection.defaultNamespace == "ml")
        #expect(connection.certificateAuthorityPEM == Array("CA-PEM".utf8))
        #expect(connection.credentials == .clientCertificate(certificatePEM: Array("CERT".utf8), keyPEM: Array("KEY".utf8)))
    }

    @Test("another context: bearer token, insecure flag")
    func namedContext() throws {
        let connection = try Kubeconfig.parse(kubeconfig, baseDirectory: "/tmp").connection(context: "lab")
        #expect(connection.credentials == .bearerToken("sekret") && connection.insecureSkipTLSVerify && connection.defaultNamespace == nil)
    }

    @Test("exec plugins and unknown contexts are clear configuration errors")
    func errors() throws {
        let config = try Kubeconfig.parse(kubeconfig, baseDirectory: "/tmp")
        #expect(throws: KubernetesError.self) { try config.connection(context: "sso") }
        #expect(throws: KubernetesError.self) { try config.connection(context: "nope") }
    }

    @Test("KUBECONFIG names the file; relative paths resolve next to it")
    func kubeconfigEnvironment() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kubeconfig-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try "CA FROM FILE".write(to: directory.appendingPathComponent("ca.pem"), atomically: true, encoding: .utf8)
        try "token-from-file".write(to: directory.appendingPathComponent("token"), atomically: true, encoding: .utf8)
        let text = """
            current-context: c
            clusters: [{name: k, cluster: {server: "https://k:443", certificate-authority: ca.pem}}]
            users: [{name: u, user: {tokenFile: token}}]
            contexts: [{name: c, context: {cluster: k, user: u}}]
            """
        let path = directory.appendingPathComponent("config").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let connection = try KubernetesConnectionLoader.kubeconfig(environment: ["KUBECONFIG": "\(path):/elsewhere"])
        #expect(connection.certificateAuthorityPEM == Array("CA FROM FILE".utf8))
        #expect(connection.credentials == .bearerTokenFile(directory.appendingPathComponent("token").path))
    }

    @Test("in-cluster: service host and port, token file re-read on rotation, CA and namespace")
    func inCluster() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("serviceaccount-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try "first\n".write(to: directory.appendingPathComponent("token"), atomically: true, encoding: .utf8)
        try "CA".write(to: directory.appendingPathComponent("ca.crt"), atomically: true, encoding: .utf8)
        try "trainyard\n".write(to: directory.appendingPathComponent("namespace"), atomically: true, encoding: .utf8)
        let environment = ["KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"]
        let connection = try KubernetesConnectionLoader.inCluster(environment: environment, serviceAccountDirectory: directory.path)
        #expect(connection.server.absoluteString == "https://[fd00::1]:443" && connection.defaultNamespace == "trainyard")
        #expect(connection.certificateAuthorityPEM == Array("CA".utf8))
        #expect(try connection.authorizationHeader() == "Bearer first")
        try "rotated".write(to: directory.appendingPathComponent("token"), atomically: true, encoding: .utf8)
        #expect(try connection.authorizationHeader() == "Bearer rotated")
        #expect(throws: KubernetesError.self) { try KubernetesConnectionLoader.inCluster(environment: [:], serviceAccountDirectory: directory.path) }
    }
}
