package dev.keel.testing;

import com.sun.tools.attach.VirtualMachine;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;

/**
 * Makes a running Keel run out of memory, from outside and without a hook in Keel: this class is
 * loaded into Keel's JVM as a Java agent (through the JDK's attach API) and allocates, on a thread
 * of its own, an array larger than any heap here, so that the JVM throws a real
 * {@link OutOfMemoryError} inside Keel's process.
 */
public final class OutOfMemoryAgent {
    private OutOfMemoryAgent() {
    }

    /** Runs inside the target JVM. */
    public static void agentmain(String arguments) {
        Thread hog = new Thread(() -> {
            long[] tooMuch = new long[Integer.MAX_VALUE - 8];
            System.out.println("allocated " + tooMuch.length);
        }, "keel-test-out-of-memory");
        hog.start();
    }

    /** Loads this agent into the JVM of process {@code pid}. */
    public static void inject(long pid) throws Exception {
        Path jar = Files.createTempFile(TestKeel.workDir(), "out-of-memory-agent", ".jar");
        Manifest manifest = new Manifest();
        manifest.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        manifest.getMainAttributes().put(new Attributes.Name("Agent-Class"), OutOfMemoryAgent.class.getName());
        String entry = OutOfMemoryAgent.class.getName().replace('.', '/') + ".class";
        try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar), manifest);
             InputStream bytes = OutOfMemoryAgent.class.getClassLoader().getResourceAsStream(entry)) {
            out.putNextEntry(new JarEntry(entry));
            bytes.transferTo(out);
            out.closeEntry();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        VirtualMachine vm = VirtualMachine.attach(Long.toString(pid));
        try {
            vm.loadAgent(jar.toString());
        } finally {
            vm.detach();
            Files.deleteIfExists(jar);
        }
    }
}
