package dev.keel.http;

import io.micronaut.http.MediaType;
import io.micronaut.http.annotation.Consumes;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * On a route that takes a JSON body: accepts it also when sent as
 * {@code application/x-www-form-urlencoded}, which is what {@code curl -d '{...}'} sends;
 * {@link JsonBodyFilter} then reads it as JSON.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.METHOD})
@Consumes({MediaType.APPLICATION_JSON, MediaType.APPLICATION_FORM_URLENCODED})
public @interface JsonBody {
}
