package dev.keel.archfixtures.http;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Stands for Micronaut's {@code @Controller} among the fixtures: a real one would make Micronaut's annotation
 * processors generate a bean and an OpenAPI document ({@code META-INF/swagger/keel.yml}) in the test classes, which
 * would hide Keel's own document from the test Keels started in the test JVM.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
public @interface FixtureController {
}
