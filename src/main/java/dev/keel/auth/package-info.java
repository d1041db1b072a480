/** Teams, API keys, and the authentication of every /v1 request to one team. */
package dev.keel.auth;
