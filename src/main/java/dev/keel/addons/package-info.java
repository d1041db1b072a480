/** The Heroku Add-on Partner API v3, provider side: a Heroku-like platform provisions Keel databases as add-ons. */
package dev.keel.addons;
