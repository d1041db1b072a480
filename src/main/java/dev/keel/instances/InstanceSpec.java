package dev.keel.instances;

import dev.keel.postgres.HbaRule;
import dev.keel.tls.ServerCertificate;

import java.util.List;
import java.util.Map;

/** Everything a runtime needs to create an instance's storage: who it is, how it is configured, its TLS identity. */
public record InstanceSpec(Instance instance, String superuserPassword, ServerCertificate certificate,
                           Map<String, String> settings, List<HbaRule> hba) {
    @Override
    public String toString() {
        return "InstanceSpec[" + instance + ", password hidden]";
    }
}
